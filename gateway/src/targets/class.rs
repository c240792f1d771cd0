//! What an IP address reaches: the address classes of IANA's IPv4 and IPv6
//! special-purpose address registries, with every form of IPv4 embedded in
//! IPv6 (mapped, compatible, NAT64, 6to4, Teredo, SIIT) unwrapped and
//! classified by the IPv4 address it reaches.
//!
//! Pure: no resolution, no policy. [`super`] decides what each class may do.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What an address reaches, for the target policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// A globally reachable unicast address.
    Public,
    /// This host.
    Loopback,
    /// A private network, allowed with `allow_private`; the name says which.
    Private(&'static str),
    /// Never a valid target (unspecified, multicast, broadcast, reserved,
    /// documentation, cloud metadata); the name says which.
    Never(&'static str),
}

/// Cloud metadata and credential services, never a target even with
/// `allow_private`: AWS, GCP, Azure and OpenStack (169.254.169.254), ECS
/// task metadata (169.254.170.2), EKS pod identity (169.254.170.23),
/// Alibaba (100.100.100.200, inside the shared range); over IPv6 AWS's
/// (`fd00:ec2::254`), EKS pod identity's (`fd00:ec2::23`) and GCP's
/// (`fd20:ce::254`).
const METADATA_V4: [Ipv4Addr; 4] = [
    Ipv4Addr::new(169, 254, 169, 254),
    Ipv4Addr::new(169, 254, 170, 2),
    Ipv4Addr::new(169, 254, 170, 23),
    Ipv4Addr::new(100, 100, 100, 200),
];
const METADATA_V6: [Ipv6Addr; 3] = [
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
    Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x23),
    Ipv6Addr::new(0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254),
];

/// IPv4 prefixes of the special-purpose registry (RFC 6890 and updates),
/// most specific first; an address in none of them is public.
#[rustfmt::skip]
const V4: &[(Ipv4Addr, u8, Class)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, Class::Never("\"this network\" (0.0.0.0/8)")),
    (Ipv4Addr::new(10, 0, 0, 0), 8, Class::Private("private")),
    (Ipv4Addr::new(100, 64, 0, 0), 10, Class::Private("shared (CGNAT)")),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Class::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, Class::Private("link-local")),
    (Ipv4Addr::new(172, 16, 0, 0), 12, Class::Private("private")),
    // 192.0.0.9 and .10 (PCP and TURN anycast) are globally reachable.
    (Ipv4Addr::new(192, 0, 0, 9), 32, Class::Public),
    (Ipv4Addr::new(192, 0, 0, 10), 32, Class::Public),
    (Ipv4Addr::new(192, 0, 0, 0), 24, Class::Never("IETF protocol assignment")),
    (Ipv4Addr::new(192, 0, 2, 0), 24, Class::Never("documentation")),
    (Ipv4Addr::new(192, 88, 99, 0), 24, Class::Never("6to4 relay anycast (deprecated)")),
    (Ipv4Addr::new(192, 168, 0, 0), 16, Class::Private("private")),
    (Ipv4Addr::new(198, 18, 0, 0), 15, Class::Never("benchmarking")),
    (Ipv4Addr::new(198, 51, 100, 0), 24, Class::Never("documentation")),
    (Ipv4Addr::new(203, 0, 113, 0), 24, Class::Never("documentation")),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Class::Never("multicast")),
    (Ipv4Addr::new(255, 255, 255, 255), 32, Class::Never("broadcast")),
    (Ipv4Addr::new(240, 0, 0, 0), 4, Class::Never("reserved")),
];

/// How an IPv6 prefix is treated.
#[derive(Clone, Copy)]
enum V6Rule {
    /// The prefix has this class.
    Is(Class),
    /// The prefix embeds an IPv4 address in its last 32 bits.
    EmbedsLow,
    /// 6to4: the IPv4 address is bits 16..48.
    SixToFour,
    /// Teredo: the server is bits 32..64, the client the inverted last 32.
    Teredo,
}

/// IPv6 prefixes of the special-purpose registry, most specific first; an
/// address in none of them is public (global unicast is 2000::/3, and
/// everything outside it that is not listed here is reserved by IANA).
#[rustfmt::skip]
const V6: &[(Ipv6Addr, u8, V6Rule)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, V6Rule::Is(Class::Never("unspecified"))),
    (Ipv6Addr::LOCALHOST, 128, V6Rule::Is(Class::Loopback)),
    // IPv4-compatible (deprecated), IPv4-mapped, and SIIT's IPv4-translated.
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, V6Rule::EmbedsLow),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96, V6Rule::EmbedsLow),
    (Ipv6Addr::new(0, 0, 0, 0, 0xffff, 0, 0, 0), 96, V6Rule::EmbedsLow),
    // NAT64: the well-known prefix embeds the IPv4 address in its last 32
    // bits. The local-use /48 (RFC 8215) is a network's own translator,
    // whose prefixes (/48 to /96, RFC 6052) put the IPv4 address in other
    // bits: it reaches that network, so it is private.
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, V6Rule::EmbedsLow),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, V6Rule::Is(Class::Private("local-use NAT64"))),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, V6Rule::Is(Class::Never("discard-only"))),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, V6Rule::Teredo),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 1), 128, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 1, 0, 0, 0, 0, 0, 2), 128, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48, V6Rule::Is(Class::Never("benchmarking"))),
    (Ipv6Addr::new(0x2001, 3, 0, 0, 0, 0, 0, 0), 32, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 4, 0x112, 0, 0, 0, 0, 0), 48, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 0x20, 0, 0, 0, 0, 0, 0), 28, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 0x30, 0, 0, 0, 0, 0, 0), 28, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, V6Rule::Is(Class::Never("IETF protocol assignment"))),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, V6Rule::Is(Class::Never("documentation"))),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, V6Rule::SixToFour),
    (Ipv6Addr::new(0x2620, 0x4f, 0x8000, 0, 0, 0, 0, 0), 48, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, V6Rule::Is(Class::Never("documentation"))),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, V6Rule::Is(Class::Never("segment routing (SRv6)"))),
    (Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3, V6Rule::Is(Class::Public)),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, V6Rule::Is(Class::Private("unique-local"))),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, V6Rule::Is(Class::Private("link-local"))),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, V6Rule::Is(Class::Private("site-local"))),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, V6Rule::Is(Class::Never("multicast"))),
];

/// The class of what `addr` reaches.
pub(crate) fn classify(addr: IpAddr) -> Class {
    match addr {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn classify_v4(addr: Ipv4Addr) -> Class {
    if METADATA_V4.contains(&addr) {
        return Class::Never("cloud metadata");
    }
    let bits = u32::from(addr);
    V4.iter()
        .find(|(net, len, _)| prefix_match(bits.into(), u32::from(*net).into(), *len, 32))
        .map_or(Class::Public, |(_, _, class)| *class)
}

fn classify_v6(addr: Ipv6Addr) -> Class {
    if METADATA_V6.contains(&addr) {
        return Class::Never("cloud metadata");
    }
    let bits = u128::from(addr);
    let rule = V6
        .iter()
        .find(|(net, len, _)| prefix_match(bits, u128::from(*net), *len, 128))
        .map(|(_, _, rule)| *rule);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    match rule {
        // Outside global unicast and every listed prefix: reserved by IANA.
        None => Class::Never("reserved"),
        Some(V6Rule::Is(class)) => class,
        Some(V6Rule::EmbedsLow) => classify_v4(low),
        Some(V6Rule::SixToFour) => classify_v4(Ipv4Addr::from((bits >> 80) as u32)),
        Some(V6Rule::Teredo) => {
            let server = classify_v4(Ipv4Addr::from((bits >> 64) as u32));
            let client = classify_v4(Ipv4Addr::from(!(bits as u32)));
            match (server, client) {
                (Class::Public, Class::Public) => Class::Public,
                (Class::Public, other) | (other, _) => other,
            }
        }
    }
}

/// Whether the top `len` of `width` bits of `addr` equal those of `net`.
fn prefix_match(addr: u128, net: u128, len: u8, width: u8) -> bool {
    if len == 0 {
        return true;
    }
    let shift = u32::from(width - len);
    (addr >> shift) == (net >> shift)
}

#[cfg(test)]
mod tests;
