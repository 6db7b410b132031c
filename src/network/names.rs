//! Name resolution inside a container: `/etc/resolv.conf` derived from the host's (loopback
//! resolvers replaced by the helper's DNS forwarder, `--dns`, `--dns-search`, `--dns-option`)
//! and the network lines of `/etc/hosts` (the container's name and hostname,
//! `host.containers.internal`, `--add-host`).

use super::addresses::is_loopback;
use super::NetworkError;

/// What the user asked for about names (`--dns*`, `--add-host`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameOptions {
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_option: Vec<String>,
    /// `HOST:IP` entries.
    pub add_host: Vec<String>,
}

/// Checks an `--add-host HOST:IP` value (IPv6 addresses keep their colons).
pub fn parse_add_host(text: &str) -> Result<(String, String), NetworkError> {
    let bad = |reason: &str| NetworkError::InvalidOption {
        flag: "--add-host",
        value: text.to_string(),
        reason: reason.to_string(),
    };
    let (host, ip) = text.split_once(':').ok_or_else(|| bad("use HOST:IP"))?;
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("the host name is empty"));
    }
    if ip != "host-gateway" && ip.parse::<std::net::IpAddr>().is_err() {
        return Err(bad("not an IP address (or host-gateway)"));
    }
    Ok((host.to_string(), ip.to_string()))
}

/// resolv.conf for a container. `host` is the host's file; `private` is false for the
/// host's own network (kept as is); `forwarder` replaces the host's loopback resolvers in a
/// private namespace (dropped without one). `--dns` replaces all nameservers, `--dns-search`
/// the search list, `--dns-option` adds options.
pub fn resolv_conf(host: &str, private: bool, forwarder: Option<&str>, o: &NameOptions) -> String {
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    for line in host.lines() {
        let mut w = line.split_whitespace();
        match w.next() {
            Some("nameserver") => {
                if let Some(ip) = w.next() {
                    let ip = if private && is_loopback(ip) {
                        forwarder
                    } else {
                        Some(ip)
                    };
                    if let Some(ip) = ip {
                        if !servers.iter().any(|s| s == ip) {
                            servers.push(ip.to_string());
                        }
                    }
                }
            }
            Some("search" | "domain") => search.extend(w.map(String::from)),
            Some("options") => options.extend(w.map(String::from)),
            _ => {}
        }
    }
    if !o.dns.is_empty() {
        servers = o.dns.clone();
    }
    if !o.dns_search.is_empty() {
        search = o.dns_search.iter().filter(|s| *s != ".").cloned().collect();
    }
    options.extend(o.dns_option.iter().cloned());
    let mut text = String::new();
    if !search.is_empty() {
        text.push_str(&format!("search {}\n", search.join(" ")));
    }
    for s in servers {
        text.push_str(&format!("nameserver {s}\n"));
    }
    if !options.is_empty() {
        text.push_str(&format!("options {}\n", options.join(" ")));
    }
    text
}

/// The extra /etc/hosts lines: `--add-host` entries first (they win, as in Podman), then
/// `host.containers.internal` when the mode reaches the host, then the container's own
/// address with its hostname and name.
pub fn hosts_lines(
    add_host: &[String],
    host_internal: Option<&str>,
    own: Option<(&str, &[&str])>,
) -> String {
    let mut text = String::new();
    for entry in add_host {
        if let Ok((host, ip)) = parse_add_host(entry) {
            let ip = if ip == "host-gateway" {
                match host_internal {
                    Some(h) => h.to_string(),
                    None => continue,
                }
            } else {
                ip
            };
            text.push_str(&format!("{ip}\t{host}\n"));
        }
    }
    if let Some(h) = host_internal {
        text.push_str(&format!(
            "{h}\thost.containers.internal host.docker.internal\n"
        ));
    }
    if let Some((ip, names)) = own {
        if !ip.is_empty() && !names.is_empty() {
            text.push_str(&format!("{ip}\t{}\n", names.join(" ")));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str =
        "# comment\nnameserver 127.0.0.53\nnameserver 9.9.9.9\nsearch lan\noptions edns0\n";

    #[test]
    fn loopback_resolvers_become_the_forwarder() {
        let r = resolv_conf(HOST, true, Some("10.0.2.3"), &NameOptions::default());
        assert_eq!(
            r,
            "search lan\nnameserver 10.0.2.3\nnameserver 9.9.9.9\noptions edns0\n"
        );
        let r = resolv_conf(HOST, true, None, &NameOptions::default());
        assert!(!r.contains("127.0.0.53") && r.contains("9.9.9.9"), "{r}");
        let r = resolv_conf(HOST, false, None, &NameOptions::default());
        assert!(r.contains("127.0.0.53"), "{r}");
    }

    #[test]
    fn dns_flags_replace_and_extend() {
        let o = NameOptions {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["example.com".into()],
            dns_option: vec!["ndots:2".into()],
            add_host: vec![],
        };
        let r = resolv_conf(HOST, true, Some("10.0.2.3"), &o);
        assert_eq!(
            r,
            "search example.com\nnameserver 1.1.1.1\noptions edns0 ndots:2\n"
        );
    }

    #[test]
    fn hosts_lines_name_the_host_and_added_hosts() {
        let t = hosts_lines(
            &["db:10.1.1.1".into(), "gw:host-gateway".into()],
            Some("10.0.2.2"),
            Some(("10.0.2.100", &["web", "c1"])),
        );
        assert_eq!(t, "10.1.1.1\tdb\n10.0.2.2\tgw\n10.0.2.2\thost.containers.internal host.docker.internal\n10.0.2.100\tweb c1\n");
        assert!(parse_add_host("nocolon").is_err());
        assert!(parse_add_host("x:notip").is_err());
        assert_eq!(
            parse_add_host("v6:[::1]").expect("v6"),
            ("v6".to_string(), "::1".to_string())
        );
    }
}
