//! Console sessions: signing in with the admin token gives the browser a
//! session cookie that the management API accepts in place of the bearer
//! token.
//!
//! The cookie is stateless: its expiry and an HMAC-SHA256 of it keyed with
//! the admin token, so every node with the same token accepts it, a
//! restart keeps it, and changing the token ends every session. It is
//! `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's page
//! sends it) and `Secure` over TLS. A request authenticated by the cookie
//! that changes anything must also carry [`CSRF_HEADER`], which a page on
//! another origin cannot set without a CORS preflight the gateway never
//! grants.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::signing::constant_time_eq;

/// The cookie's name.
pub const COOKIE: &str = "hookgate_session";
/// The header a cookie-authenticated change must carry (any value).
pub const CSRF_HEADER: &str = "x-hookgate-console";
/// How long a session lasts: 12 hours.
pub const LIFETIME_MS: u64 = 12 * 3_600_000;

/// The cookie value for a session ending at `expires` (Unix ms).
pub fn mint(token: &str, expires: u64) -> String {
    format!("{expires}.{}", mac(token, expires))
}

/// Whether `value` is a session minted with `token` that has not expired
/// at `now`.
pub fn valid(token: &str, value: &str, now: u64) -> bool {
    let Some((expires, given)) = value.split_once('.') else {
        return false;
    };
    let Ok(expires) = expires.parse::<u64>() else {
        return false;
    };
    expires > now && constant_time_eq(given.as_bytes(), mac(token, expires).as_bytes())
}

/// The session cookie in a `Cookie` header, if any.
pub fn from_header(cookies: &str) -> Option<&str> {
    cookies
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// The `Set-Cookie` value that starts a session, `Secure` over TLS.
pub fn set_cookie(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
        LIFETIME_MS / 1000
    )
}

/// The `Set-Cookie` value that ends it.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}")
}

fn mac(token: &str, expires: u64) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(token.as_bytes()) else {
        // HMAC takes a key of any length.
        return String::new();
    };
    mac.update(b"hookgate console session\0");
    mac.update(&expires.to_be_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_until_it_expires_and_only_for_its_token() {
        let value = mint("admin-token", 2_000);
        assert!(valid("admin-token", &value, 1_999));
        assert!(!valid("admin-token", &value, 2_000), "expired");
        assert!(!valid("other-token", &value, 1_000), "another token");
        let (_, mac) = value.split_once('.').expect("two parts");
        assert!(
            !valid("admin-token", &format!("9999999.{mac}"), 1_000),
            "a later expiry with the old MAC"
        );
        assert!(!valid("admin-token", "garbage", 1_000));
    }

    #[test]
    fn the_cookie_is_found_among_others_and_set_strictly() {
        assert_eq!(from_header("a=1; hookgate_session=5.ab; b=2"), Some("5.ab"));
        assert_eq!(from_header("a=1"), None);
        let set = set_cookie("5.ab", true);
        for part in ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(!set_cookie("5.ab", false).contains("Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
