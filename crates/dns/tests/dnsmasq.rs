//! atoll-dns against a real DNS server: dnsmasq with records written by
//! each test (atoll_testkit::dnsmasq).

use std::net::IpAddr;
use std::time::Duration;

use atoll_dns::{DnsConfig, DnsError, Mx, MxHost, Resolver, ReverseName};
use atoll_testkit::dnsmasq::{Dnsmasq, Zone};

fn resolver(dns: &Dnsmasq) -> Resolver {
    Resolver::new(&DnsConfig { nameservers: vec![dns.addr()], timeout: Duration::from_secs(5) }).expect("resolver")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("an address")
}

fn host(preference: u16, host: &str) -> MxHost {
    MxHost { preference, host: host.to_string() }
}

#[tokio::test]
async fn mx_by_preference_implicit_and_null() {
    let mut zone = Zone::new();
    zone.mx("example.com", 20, "mx2.example.com")
        .mx("example.com", 5, "MX0.example.com")
        .mx("example.com", 10, "mx1.example.com")
        .a("example.net", "192.0.2.10")
        .null_mx("example.org");
    let Some(dns) = zone.start() else { return };
    let r = resolver(&dns);

    // RFC 5321 §5.1: lowest preference first, names lowercased.
    let got = r.mx("example.com").await.unwrap();
    let want = vec![host(5, "mx0.example.com"), host(10, "mx1.example.com"), host(20, "mx2.example.com")];
    assert_eq!(got, Mx::Hosts { hosts: want, implicit: false }, "{}", dns.log());
    // No MX record: the domain itself, preference 0.
    let got = r.mx("example.net").await.unwrap();
    assert_eq!(got, Mx::Hosts { hosts: vec![host(0, "example.net")], implicit: true });
    // RFC 7505: the domain takes no mail.
    assert_eq!(r.mx("example.org").await.unwrap(), Mx::NullMx);
    // A domain that does not exist is not given an implicit MX.
    assert_eq!(r.mx("nowhere.example").await, Err(DnsError::NoSuchDomain("nowhere.example".into())));
}

#[tokio::test]
async fn addresses_and_txt() {
    let mut zone = Zone::new();
    let long_a = "a".repeat(255);
    let long_b = "b".repeat(100);
    zone.a("mail.example.com", "192.0.2.1")
        .aaaa("mail.example.com", "2001:db8::25")
        .a("v4only.example.com", "192.0.2.2")
        .txt("example.com", &["v=spf1 ip4:192.0.2.0/24 -all"])
        .txt("example.com", &["something else"])
        .txt("long.example.com", &[&long_a, &long_b]);
    let Some(dns) = zone.start() else { return };
    let r = resolver(&dns);

    assert_eq!(r.ips("mail.example.com").await.unwrap(), vec![ip("192.0.2.1"), ip("2001:db8::25")]);
    assert_eq!(r.ips("v4only.example.com").await.unwrap(), vec![ip("192.0.2.2")]);
    assert_eq!(r.ips("nothing.example.com").await.unwrap(), Vec::<IpAddr>::new());

    let mut txt = r.txt("example.com").await.unwrap();
    txt.sort();
    assert_eq!(txt, vec!["something else".to_string(), "v=spf1 ip4:192.0.2.0/24 -all".to_string()]);
    // A record of several strings reads as one (RFC 7208 §3.3).
    assert_eq!(r.txt("long.example.com").await.unwrap(), vec![format!("{long_a}{long_b}")]);
    assert!(r.txt("none.example.com").await.unwrap().is_empty());
    assert!(matches!(r.txt("bad name").await, Err(DnsError::BadName(_))));
}

#[tokio::test]
async fn reverse_dns_is_confirmed_forward() {
    let mut zone = Zone::new();
    zone
        // pass: the PTR name has the address
        .a("mail.example.com", "192.0.2.1")
        .aaaa("mail6.example.com", "2001:db8::25")
        // fail: the PTR name points elsewhere
        .ptr("192.0.2.2", "liar.example.com")
        .a("liar.example.com", "192.0.2.99")
        .ptr("192.0.2.99", "other.example.com")
        // two PTR names, the second one confirms
        .ptr("192.0.2.3", "nothing.example.com")
        .ptr("192.0.2.3", "second.example.com")
        .a("second.example.com", "192.0.2.3");
    let Some(dns) = zone.start() else { return };
    let r = resolver(&dns);

    assert_eq!(r.ptr(ip("192.0.2.1")).await.unwrap(), vec!["mail.example.com".to_string()]);
    assert_eq!(r.verified_hostname(ip("192.0.2.1")).await.unwrap(), ReverseName::Verified("mail.example.com".into()));
    assert_eq!(
        r.verified_hostname(ip("2001:db8::25")).await.unwrap(),
        ReverseName::Verified("mail6.example.com".into())
    );
    // An IPv4 client seen on a dual-stack socket.
    assert_eq!(
        r.verified_hostname(ip("::ffff:192.0.2.1")).await.unwrap(),
        ReverseName::Verified("mail.example.com".into())
    );
    assert_eq!(
        r.verified_hostname(ip("192.0.2.2")).await.unwrap(),
        ReverseName::Unverified(vec!["liar.example.com".into()])
    );
    assert_eq!(r.verified_hostname(ip("192.0.2.3")).await.unwrap(), ReverseName::Verified("second.example.com".into()));
    assert_eq!(r.verified_hostname(ip("192.0.2.200")).await.unwrap(), ReverseName::NoPtr);
}

#[tokio::test]
async fn a_server_that_does_not_answer_is_a_temporary_error() {
    // Nothing listens there: every query times out or is refused.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let config = DnsConfig { nameservers: vec![silent.local_addr().unwrap()], timeout: Duration::from_millis(300) };
    let r = Resolver::new(&config).unwrap();
    let e = r.mx("example.com").await.unwrap_err();
    assert!(e.is_temporary(), "{e:?}");
    let e = r.verified_hostname(ip("192.0.2.1")).await.unwrap_err();
    assert!(e.is_temporary(), "{e:?}");
    assert!(r.txt("example.com").await.unwrap_err().is_temporary());
}
