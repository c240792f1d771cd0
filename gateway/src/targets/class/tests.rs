//! The whole special-purpose registry, one address per row, and every
//! embedding of IPv4 in IPv6.

use super::*;

/// An address and a check of the class it must get.
type Row = (&'static str, fn(Class) -> bool);

fn class(addr: &str) -> Class {
    classify(addr.parse().expect("an IP address"))
}

fn never(class: Class) -> bool {
    matches!(class, Class::Never(_))
}

fn private(class: Class) -> bool {
    matches!(class, Class::Private(_))
}

#[test]
fn every_ipv4_special_purpose_block_has_its_class() {
    let rows: &[Row] = &[
        ("0.0.0.0", never),
        ("0.1.2.3", never),
        ("10.0.0.1", private),
        ("10.255.255.255", private),
        ("100.64.0.1", private),
        ("100.127.255.254", private),
        ("127.0.0.1", |c| c == Class::Loopback),
        ("127.255.0.9", |c| c == Class::Loopback),
        ("169.254.1.1", private),
        ("169.254.169.254", |c| c == Class::Never("cloud metadata")),
        ("100.100.100.200", |c| c == Class::Never("cloud metadata")),
        ("169.254.170.2", |c| c == Class::Never("cloud metadata")),
        ("169.254.170.23", |c| c == Class::Never("cloud metadata")),
        ("172.16.0.1", private),
        ("172.31.255.255", private),
        ("192.0.0.1", never),
        ("192.0.0.170", never),
        ("192.0.2.1", never),
        ("192.88.99.1", never),
        ("192.168.1.1", private),
        ("198.18.0.1", never),
        ("198.19.255.255", never),
        ("198.51.100.7", never),
        ("203.0.113.9", never),
        ("224.0.0.1", never),
        ("239.255.255.255", never),
        ("240.0.0.1", never),
        ("255.255.255.255", never),
    ];
    for (addr, expected) in rows {
        let got = class(addr);
        assert!(expected(got), "{addr} classified as {got:?}");
    }
}

#[test]
fn globally_reachable_ipv4_is_public() {
    for addr in [
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.0.9",
        "192.0.0.10",
        "192.31.196.1",
        "192.52.193.1",
        "192.175.48.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ] {
        assert_eq!(class(addr), Class::Public, "{addr}");
    }
}

#[test]
fn every_ipv6_special_purpose_block_has_its_class() {
    let rows: &[Row] = &[
        ("::", never),
        ("::1", |c| c == Class::Loopback),
        ("fd00:ec2::254", |c| c == Class::Never("cloud metadata")),
        ("fd00:ec2::23", |c| c == Class::Never("cloud metadata")),
        ("fd20:ce::254", |c| c == Class::Never("cloud metadata")),
        ("100::1", never),
        ("2001:2::1", never),
        ("2001:10::1", never),
        ("2001:100::1", never),
        ("2001:db8::1", never),
        ("3fff::1", never),
        ("5f00::1", never),
        ("fc00::1", private),
        ("fd12:3456::1", private),
        ("fe80::1", private),
        ("febf::1", private),
        ("fec0::1", |c| c == Class::Private("site-local")),
        ("feff::1", private),
        ("ff02::1", never),
        ("ff0e::1", never),
        // Outside 2000::/3 and every listed block: reserved.
        ("4000::1", never),
        ("1::1", never),
    ];
    for (addr, expected) in rows {
        let got = class(addr);
        assert!(expected(got), "{addr} classified as {got:?}");
    }
}

#[test]
fn globally_reachable_ipv6_is_public() {
    for addr in [
        "2606:4700::1111",
        "2a00:1450::1",
        "2001:1::1",
        "2001:1::2",
        "2001:3::1",
        "2001:4:112::1",
        "2001:20::1",
        "2620:4f:8000::1",
        "3ffe::1",
    ] {
        assert_eq!(class(addr), Class::Public, "{addr}");
    }
}

#[test]
fn ipv4_embedded_in_ipv6_is_classified_by_what_it_reaches() {
    for (addr, expected) in [
        // IPv4-mapped, IPv4-compatible and SIIT.
        ("::ffff:127.0.0.1", Class::Loopback),
        ("::ffff:169.254.169.254", Class::Never("cloud metadata")),
        ("::127.0.0.1", Class::Loopback),
        ("::10.0.0.1", Class::Private("private")),
        ("::ffff:0:127.0.0.1", Class::Loopback),
        ("::ffff:8.8.8.8", Class::Public),
        // NAT64, well-known and local-use.
        ("64:ff9b::a9fe:a9fe", Class::Never("cloud metadata")),
        ("64:ff9b::127.0.0.1", Class::Loopback),
        ("64:ff9b::10.1.2.3", Class::Private("private")),
        ("64:ff9b::8.8.8.8", Class::Public),
        // The local-use prefix is a network's own translator, whatever the
        // embedded address seems to be.
        ("64:ff9b:1::192.168.0.1", Class::Private("local-use NAT64")),
        (
            "64:ff9b:1:a00:1:0:808:808",
            Class::Private("local-use NAT64"),
        ),
        // 6to4: the IPv4 address is the 32 bits after 2002.
        ("2002:7f00:1::1", Class::Loopback),
        ("2002:a9fe:a9fe::", Class::Never("cloud metadata")),
        ("2002:c0a8:101::1", Class::Private("private")),
        ("2002:5db8:d822::1", Class::Public),
        // Teredo: server 8.8.8.8, client the inverse of the last 32 bits.
        ("2001:0:808:808::80ff:fffe", Class::Loopback),
        ("2001:0:808:808::f7f7:f7f7", Class::Public),
        ("2001:0:7f00:1::f7f7:f7f7", Class::Loopback),
    ] {
        assert_eq!(class(addr), expected, "{addr}");
    }
}
