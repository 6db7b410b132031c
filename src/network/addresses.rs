//! The addresses a container sees in each mode: its own IP and prefix, the gateway, the DNS
//! forwarder, and what `host.containers.internal` resolves to. slirp4netns uses fixed ones in
//! its CIDR (10.0.2.100, gateway 10.0.2.2 which reaches the host's loopback with
//! `allow_host_loopback`, DNS 10.0.2.3); pasta copies the host's (address and gateway of the
//! interface with the default route), and with its gateway mapping (on unless `--no-map-gw`)
//! connections to the gateway address reach the host's loopback.

use std::net::Ipv4Addr;

use super::mode::{Mode, SlirpOptions};

/// The address pasta answers DNS on when the host's resolvers are all on loopback
/// (`--dns-forward`), as Podman 5 does.
pub const PASTA_DNS_FORWARD: &str = "169.254.1.1";

/// What a container's network looks like from inside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses {
    pub ip: String,
    pub prefix: u8,
    pub gateway: String,
    /// A DNS forwarder that replaces the host's loopback resolvers in resolv.conf.
    pub dns_forwarder: Option<String>,
    /// The address `host.containers.internal` names (the host's loopback through the helper).
    pub host_internal: Option<String>,
}

fn slirp(o: &SlirpOptions) -> Addresses {
    let (net, prefix) = o
        .cidr
        .as_deref()
        .and_then(|c| c.split_once('/'))
        .and_then(|(a, p)| Some((a.parse::<Ipv4Addr>().ok()?, p.parse::<u8>().ok()?)))
        .unwrap_or((Ipv4Addr::new(10, 0, 2, 0), 24));
    let base = u32::from(net);
    let at = |n: u32| Ipv4Addr::from(base + n).to_string();
    Addresses {
        ip: at(100),
        prefix,
        gateway: at(2),
        dns_forwarder: Some(at(3)),
        host_internal: o.allow_host_loopback.then(|| at(2)),
    }
}

/// The host's default IPv4 gateway and its interface, from /proc/net/route.
fn default_route() -> Option<(String, Ipv4Addr)> {
    let text = std::fs::read_to_string("/proc/net/route").ok()?;
    text.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() > 2 && f[1] == "00000000" {
            let gw = u32::from_str_radix(f[2], 16).ok()?;
            Some((f[0].to_string(), Ipv4Addr::from(u32::from_be(gw))))
        } else {
            None
        }
    })
}

fn iface_v4(name: &str) -> Option<(Ipv4Addr, u8)> {
    nix::ifaddrs::getifaddrs().ok()?.find_map(|a| {
        if a.interface_name != name {
            return None;
        }
        let ip = a.address?.as_sockaddr_in()?.ip();
        let mask = a.netmask?.as_sockaddr_in()?.ip();
        Some((ip, u32::from(mask).count_ones() as u8))
    })
}

/// The value following `flag` (or its short form) in pasta's options.
fn pasta_opt<'a>(opts: &'a [String], long: &str, short: &str) -> Option<&'a str> {
    opts.iter()
        .position(|a| a == long || a == short)
        .and_then(|i| opts.get(i + 1))
        .map(String::as_str)
}

fn pasta(opts: &[String], host_resolvers_loopback: bool) -> Addresses {
    let route = default_route();
    let (ip, prefix) = route
        .as_ref()
        .and_then(|(i, _)| iface_v4(i))
        .map(|(a, p)| (a.to_string(), p))
        .unwrap_or_default();
    let ip = pasta_opt(opts, "--address", "-a").map_or(ip, String::from);
    let gateway = pasta_opt(opts, "--gateway", "-g")
        .map(String::from)
        .or_else(|| route.map(|(_, g)| g.to_string()))
        .unwrap_or_default();
    let map_gw = !opts.iter().any(|a| a == "--no-map-gw");
    Addresses {
        ip,
        prefix,
        host_internal: (map_gw && !gateway.is_empty()).then(|| gateway.clone()),
        gateway,
        dns_forwarder: host_resolvers_loopback.then(|| PASTA_DNS_FORWARD.to_string()),
    }
}

/// True when `ip` (a resolv.conf nameserver) is on loopback.
pub fn is_loopback(ip: &str) -> bool {
    ip.starts_with("127.") || ip == "::1"
}

/// True when the host's resolv.conf has a loopback nameserver.
pub fn host_resolvers_loopback(resolv: &str) -> bool {
    resolv.lines().any(|l| {
        let mut w = l.split_whitespace();
        w.next() == Some("nameserver") && w.next().is_some_and(is_loopback)
    })
}

/// The addresses of a container in `mode` (empty for none/host/shared namespaces).
pub fn addresses(mode: &Mode, host_resolv: &str) -> Addresses {
    match mode {
        Mode::Slirp(o) => slirp(o),
        Mode::Pasta(o) => pasta(o, host_resolvers_loopback(host_resolv)),
        _ => Addresses::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slirp_addresses_follow_its_cidr() {
        let a = addresses(&Mode::Slirp(SlirpOptions::default()), "");
        assert_eq!(
            (a.ip.as_str(), a.gateway.as_str(), a.prefix),
            ("10.0.2.100", "10.0.2.2", 24)
        );
        assert_eq!(a.dns_forwarder.as_deref(), Some("10.0.2.3"));
        assert_eq!(a.host_internal.as_deref(), Some("10.0.2.2"));
        let o = SlirpOptions {
            cidr: Some("10.9.0.0/16".into()),
            allow_host_loopback: false,
            ..Default::default()
        };
        let a = addresses(&Mode::Slirp(o), "");
        assert_eq!((a.ip.as_str(), a.prefix), ("10.9.0.100", 16));
        assert_eq!(a.host_internal, None);
    }

    #[test]
    fn pasta_honours_its_address_options_and_gateway_mapping() {
        let opts: Vec<String> = ["-a", "10.1.2.3", "-g", "10.1.2.1", "--no-map-gw"]
            .map(String::from)
            .to_vec();
        let a = addresses(&Mode::Pasta(opts), "nameserver 127.0.0.53\n");
        assert_eq!(
            (a.ip.as_str(), a.gateway.as_str()),
            ("10.1.2.3", "10.1.2.1")
        );
        assert_eq!(a.host_internal, None);
        assert_eq!(a.dns_forwarder.as_deref(), Some(PASTA_DNS_FORWARD));
        let a = addresses(
            &Mode::Pasta(vec!["-g".into(), "10.1.2.1".into()]),
            "nameserver 9.9.9.9\n",
        );
        assert_eq!(a.host_internal.as_deref(), Some("10.1.2.1"));
        assert_eq!(a.dns_forwarder, None);
    }
}
