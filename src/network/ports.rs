//! Published ports: `-p/--publish [ip:][hostPort:]containerPort[/tcp|udp]` with ranges, `-P`
//! for the image's EXPOSEd ports (random free host ports), the pre-flight bind check before a
//! start (port in use, port below `net.ipv4.ip_unprivileged_port_start`), and the renderings
//! of `nook port`, `ps` and `inspect`.

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::NetworkError;

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to bind; empty for all addresses.
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

impl PortMapping {
    /// `127.0.0.1:18080` (`0.0.0.0` for all addresses), as `nook port` prints it.
    pub fn host_addr(&self) -> String {
        let ip = if self.host_ip.is_empty() {
            "0.0.0.0"
        } else {
            &self.host_ip
        };
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{ip}]:{}", self.host_port),
            _ => format!("{ip}:{}", self.host_port),
        }
    }

    fn socket_addr(&self) -> Option<SocketAddr> {
        let ip: IpAddr = if self.host_ip.is_empty() {
            IpAddr::from([0, 0, 0, 0])
        } else {
            self.host_ip.parse().ok()?
        };
        Some(SocketAddr::new(ip, self.host_port))
    }
}

fn bad(spec: &str, reason: impl Into<String>) -> NetworkError {
    NetworkError::InvalidPort {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

fn range(text: &str, spec: &str) -> Result<(u16, u16), NetworkError> {
    let num = |t: &str| {
        t.parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad(spec, format!("\"{t}\" is not a port number (1-65535)")))
    };
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            if b < a {
                return Err(bad(spec, format!("the range {a}-{b} runs backwards")));
            }
            Ok((a, b))
        }
        None => num(text).map(|p| (p, p)),
    }
}

/// Parses one `-p` value into one mapping per port (a host port of 0 means "pick a free
/// one at create").
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, NetworkError> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p @ ("tcp" | "udp"))) => (a, p),
        Some((_, p)) => return Err(bad(spec, format!("protocol \"{p}\" is not tcp or udp"))),
        None => (spec, "tcp"),
    };
    // An IPv6 host address is written in brackets: [::1]:8080:80.
    let (host_ip, rest) = if let Some(r) = addr.strip_prefix('[') {
        let (ip, rest) = r
            .split_once("]:")
            .ok_or_else(|| bad(spec, "an IPv6 address must be [ADDR]:HOSTPORT:PORT"))?;
        (ip.to_string(), rest.to_string())
    } else {
        let parts: Vec<&str> = addr.split(':').collect();
        match parts.len() {
            1 | 2 => (String::new(), addr.to_string()),
            3 => (parts[0].to_string(), format!("{}:{}", parts[1], parts[2])),
            _ => return Err(bad(spec, "use [IP:][HOSTPORT:]PORT[/tcp|udp]")),
        }
    };
    if !host_ip.is_empty() && host_ip.parse::<IpAddr>().is_err() {
        return Err(bad(spec, format!("\"{host_ip}\" is not an IP address")));
    }
    let (host, ctr) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest.as_str()),
    };
    let (c0, c1) = range(ctr, spec)?;
    let hosts: Vec<u16> = if host.is_empty() {
        vec![0; usize::from(c1 - c0) + 1]
    } else {
        let (h0, h1) = range(host, spec)?;
        if h1 - h0 != c1 - c0 {
            return Err(bad(
                spec,
                format!("the host range {host} and the container range {ctr} differ in size"),
            ));
        }
        (h0..=h1).collect()
    };
    Ok((c0..=c1)
        .zip(hosts)
        .map(|(c, h)| PortMapping {
            host_ip: host_ip.clone(),
            host_port: h,
            container_port: c,
            protocol: protocol.to_string(),
        })
        .collect())
}

/// The mappings of `-P`: each EXPOSEd port (`80/tcp`, `53/udp`, `8080`) on a random host port.
pub fn publish_all(exposed: &[String]) -> Result<Vec<PortMapping>, NetworkError> {
    let mut out = Vec::new();
    for e in exposed {
        out.extend(parse_publish(e)?);
    }
    Ok(out)
}

/// Gives every mapping with host port 0 a free port on its address (the kernel's choice).
pub fn assign_random(ports: &mut [PortMapping]) -> Result<(), NetworkError> {
    for p in ports.iter_mut().filter(|p| p.host_port == 0) {
        let addr = p
            .socket_addr()
            .ok_or_else(|| bad(&p.host_ip, "not an IP address"))?;
        let port = if p.protocol == "udp" {
            UdpSocket::bind(addr).and_then(|s| s.local_addr())
        } else {
            TcpListener::bind(addr).and_then(|s| s.local_addr())
        }
        .map_err(|e| NetworkError::Bind {
            addr: p.host_addr(),
            protocol: p.protocol.clone(),
            reason: e.to_string(),
        })?
        .port();
        p.host_port = port;
    }
    Ok(())
}

/// The sysctl that bounds unprivileged binds.
pub const UNPRIVILEGED_SYSCTL: &str = "net.ipv4.ip_unprivileged_port_start";

fn unprivileged_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(1024)
}

/// Binds each host port for a moment: a port taken (by `claimed_by(mapping)`, or another
/// process) or below the unprivileged start fails before the container starts.
pub fn preflight(
    ports: &[PortMapping],
    claimed_by: impl Fn(&PortMapping) -> Option<String>,
) -> Result<(), NetworkError> {
    for p in ports {
        let addr = p
            .socket_addr()
            .ok_or_else(|| bad(&p.host_ip, "not an IP address"))?;
        let res = if p.protocol == "udp" {
            UdpSocket::bind(addr).map(drop)
        } else {
            TcpListener::bind(addr).map(drop)
        };
        match res {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(NetworkError::Privileged {
                    addr: p.host_addr(),
                    start: unprivileged_start(),
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
                return Err(NetworkError::InUse {
                    addr: p.host_addr(),
                    protocol: p.protocol.clone(),
                    by: claimed_by(p).map_or_else(
                        || "another process on the host".to_string(),
                        |c| format!("container {c}"),
                    ),
                })
            }
            Err(e) => {
                return Err(NetworkError::Bind {
                    addr: p.host_addr(),
                    protocol: p.protocol.clone(),
                    reason: e.to_string(),
                })
            }
        }
    }
    Ok(())
}

/// True when two mappings claim the same host socket.
pub fn overlaps(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip == b.host_ip || a.host_ip.is_empty() || b.host_ip.is_empty())
}

/// `nook port` lines: `80/tcp -> 127.0.0.1:18080`, only `private` (`80` or `80/udp`) if given.
pub fn port_lines(
    ports: &[PortMapping],
    private: Option<&str>,
) -> Result<Vec<String>, NetworkError> {
    let want = private.map(|p| {
        if p.contains('/') {
            p.to_string()
        } else {
            format!("{p}/tcp")
        }
    });
    let lines: Vec<String> = ports
        .iter()
        .filter(|p| {
            want.as_deref()
                .is_none_or(|w| w == format!("{}/{}", p.container_port, p.protocol))
        })
        .map(|p| match &want {
            Some(_) => p.host_addr(),
            None => format!("{}/{} -> {}", p.container_port, p.protocol, p.host_addr()),
        })
        .collect();
    match want {
        Some(w) if lines.is_empty() => Err(NetworkError::NotPublished(w)),
        _ => Ok(lines),
    }
}

/// The `ps` PORTS column: `127.0.0.1:18080->80/tcp, 0.0.0.0:5353->53/udp`.
pub fn ps_column(ports: &[PortMapping]) -> String {
    ports
        .iter()
        .map(|p| format!("{}->{}/{}", p.host_addr(), p.container_port, p.protocol))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `{"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18080"}]}` (inspect's `Ports` and
/// `PortBindings`).
pub fn bindings_json(ports: &[PortMapping]) -> Value {
    let mut map = Map::new();
    for p in ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = map.entry(key).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(json!({"HostIp": p.host_ip, "HostPort": p.host_port.to_string()}));
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: &str, h: u16, c: u16, proto: &str) -> PortMapping {
        PortMapping {
            host_ip: ip.into(),
            host_port: h,
            container_port: c,
            protocol: proto.into(),
        }
    }

    #[test]
    fn publish_specs_parse_as_podman_writes_them() {
        assert_eq!(parse_publish("80").expect("p"), vec![m("", 0, 80, "tcp")]);
        assert_eq!(
            parse_publish("8080:80").expect("p"),
            vec![m("", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1:8080:80/udp").expect("p"),
            vec![m("127.0.0.1", 8080, 80, "udp")]
        );
        assert_eq!(
            parse_publish("127.0.0.1::80").expect("p"),
            vec![m("127.0.0.1", 0, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("[::1]:8080:80").expect("p"),
            vec![m("::1", 8080, 80, "tcp")]
        );
        assert_eq!(
            parse_publish("9000-9001:80-81").expect("p"),
            vec![m("", 9000, 80, "tcp"), m("", 9001, 81, "tcp")]
        );
    }

    #[test]
    fn bad_publish_specs_say_why() {
        for (spec, why) in [
            ("80/sctp", "not tcp or udp"),
            ("x:80", "not a port number"),
            ("9000-9002:80-81", "differ in size"),
            ("localhost:80:80", "not an IP address"),
            ("0:80", "not a port number"),
            ("1:2:3:4", "use [IP:]"),
        ] {
            let e = parse_publish(spec).expect_err(spec).to_string();
            assert!(e.contains(spec) && e.contains(why), "{e}");
        }
    }

    #[test]
    fn renderings_match_podman() {
        let ports = vec![m("127.0.0.1", 18080, 80, "tcp"), m("", 5353, 53, "udp")];
        assert_eq!(
            port_lines(&ports, None).expect("lines"),
            vec!["80/tcp -> 127.0.0.1:18080", "53/udp -> 0.0.0.0:5353"]
        );
        assert_eq!(
            port_lines(&ports, Some("80")).expect("one"),
            vec!["127.0.0.1:18080"]
        );
        assert!(port_lines(&ports, Some("81"))
            .expect_err("none")
            .to_string()
            .contains("81/tcp"));
        assert_eq!(
            ps_column(&ports),
            "127.0.0.1:18080->80/tcp, 0.0.0.0:5353->53/udp"
        );
        let j = bindings_json(&ports);
        assert_eq!(j["80/tcp"][0]["HostPort"], "18080");
        assert_eq!(j["53/udp"][0]["HostIp"], "");
    }

    #[test]
    fn preflight_names_a_taken_port_and_random_ports_are_free() {
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = taken.local_addr().expect("addr").port();
        let e = preflight(&[m("127.0.0.1", port, 80, "tcp")], |_| Some("web".into()))
            .expect_err("in use")
            .to_string();
        assert!(
            e.contains(&format!("127.0.0.1:{port}")) && e.contains("container web"),
            "{e}"
        );
        let mut ports = vec![m("127.0.0.1", 0, 80, "tcp")];
        assign_random(&mut ports).expect("random");
        assert_ne!(ports[0].host_port, 0);
        preflight(&ports, |_| None).expect("free");
        assert!(overlaps(&m("", 1, 2, "tcp"), &m("127.0.0.1", 1, 3, "tcp")));
        assert!(!overlaps(&m("", 1, 2, "tcp"), &m("", 1, 2, "udp")));
    }
}
