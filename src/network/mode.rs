//! `--network` / `--net` values as Podman spells them: `pasta[:OPTS]`, `slirp4netns[:OPTS]`,
//! `none`, `host`, `container:NAME|ID`, `ns:PATH`, and the default (pasta when its binary
//! exists and the host has a routable interface, else slirp4netns, else — on a host without
//! any network — a private namespace with loopback only, said on stderr). A mode is stored in `create.json` as the text the user would
//! type, so old records (`"none"`, `"host"`) still load.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::helpers::{self, Helper};
use super::NetworkError;

/// slirp4netns options (`slirp4netns:allow_host_loopback=true,mtu=1500,...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlirpOptions {
    /// Reach the host's loopback at 10.0.2.2 (`host.containers.internal`). Default true (see the
    /// README: the everyday "database on the laptop's loopback" case), Podman's default is false.
    pub allow_host_loopback: bool,
    pub mtu: u32,
    pub cidr: Option<String>,
    pub enable_ipv6: bool,
    pub outbound_addr: Option<String>,
    pub outbound_addr6: Option<String>,
}

impl Default for SlirpOptions {
    fn default() -> Self {
        SlirpOptions {
            allow_host_loopback: true,
            mtu: 65520,
            cidr: None,
            enable_ipv6: false,
            outbound_addr: None,
            outbound_addr6: None,
        }
    }
}

/// A container's network mode.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Mode {
    /// Not chosen yet: [`Mode::resolve`] turns it into pasta or slirp4netns.
    #[default]
    Default,
    /// A private namespace with only `lo`.
    None,
    /// The host's network namespace.
    Host,
    /// A private namespace connected by pasta; the extra pasta arguments as given.
    Pasta(Vec<String>),
    /// A private namespace connected by slirp4netns.
    Slirp(SlirpOptions),
    /// Another container's namespace (name or id).
    Container(String),
    /// A namespace file (`ns:/run/user/1000/netns/x`).
    Ns(PathBuf),
}

impl Mode {
    /// The mode names shell completion offers.
    pub const NAMES: &'static [&'static str] =
        &["pasta", "slirp4netns", "none", "host", "container:", "ns:"];

    /// Parses a `--network` value.
    pub fn parse(text: &str) -> Result<Mode, NetworkError> {
        let bad = |reason: &str| NetworkError::InvalidMode {
            value: text.to_string(),
            reason: reason.to_string(),
        };
        let (kind, opts) = match text.split_once(':') {
            Some((k, o)) => (k, Some(o)),
            None => (text, None),
        };
        Ok(match (kind, opts) {
            ("" | "private", None) => Mode::Default,
            ("none", None) => Mode::None,
            ("host", None) => Mode::Host,
            ("pasta", None) => Mode::Pasta(Vec::new()),
            ("pasta", Some(o)) => Mode::Pasta(
                o.split(',')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect(),
            ),
            ("slirp4netns", o) => Mode::Slirp(parse_slirp(o.unwrap_or("")).map_err(|r| bad(&r))?),
            ("container", Some(c)) if !c.is_empty() => Mode::Container(c.to_string()),
            ("ns", Some(p)) if p.starts_with('/') => Mode::Ns(PathBuf::from(p)),
            ("container", _) => return Err(bad("name the container: container:NAME|ID")),
            ("ns", _) => return Err(bad("give an absolute namespace path: ns:/PATH")),
            ("bridge", _) => {
                return Err(bad(
                    "bridge networks need a network daemon nook does not have: use pasta or slirp4netns with -p",
                ))
            }
            _ => {
                return Err(bad(
                    "use pasta[:OPTIONS], slirp4netns[:OPTIONS], none, host, container:NAME or ns:PATH",
                ))
            }
        })
    }

    /// Chooses the helper for [`Mode::Default`]: pasta when its binary exists, else
    /// slirp4netns, else an error naming the Debian packages. Other modes are checked for
    /// their helper binary.
    pub fn resolve(self) -> Result<Mode, NetworkError> {
        match self {
            Mode::Default => {
                let pasta = helpers::find(Helper::Pasta).is_some();
                let slirp = helpers::find(Helper::Slirp4netns).is_some();
                // pasta refuses a host without a routable interface (an offline laptop, a
                // guest without a NIC); slirp4netns does not need one.
                let routable = host_is_routable();
                if pasta && routable {
                    Ok(Mode::Pasta(Vec::new()))
                } else if slirp {
                    Ok(Mode::Slirp(SlirpOptions::default()))
                } else if pasta {
                    eprintln!(
                        "WARN: the host has no routable network interface (no default route), \
                         which pasta needs: the container gets loopback only. Connect a network, \
                         or install slirp4netns, to give it one; --network none says this explicitly"
                    );
                    Ok(Mode::None)
                } else {
                    Err(NetworkError::NoHelper)
                }
            }
            Mode::Pasta(o) => helpers::require(Helper::Pasta).map(|_| Mode::Pasta(o)),
            Mode::Slirp(o) => helpers::require(Helper::Slirp4netns).map(|_| Mode::Slirp(o)),
            other => Ok(other),
        }
    }

    /// True when the container gets its own namespace connected by a helper.
    pub fn has_helper(&self) -> bool {
        matches!(self, Mode::Pasta(_) | Mode::Slirp(_))
    }

    /// Podman's `HostConfig.NetworkMode` spelling.
    pub fn name(&self) -> String {
        match self {
            Mode::Default => "default".into(),
            Mode::None => "none".into(),
            Mode::Host => "host".into(),
            Mode::Pasta(_) => "pasta".into(),
            Mode::Slirp(_) => "slirp4netns".into(),
            Mode::Container(c) => format!("container:{c}"),
            Mode::Ns(p) => format!("ns:{}", p.display()),
        }
    }

    /// Whether `host.containers.internal` reaches the host's loopback in this mode.
    pub fn maps_host_loopback(&self) -> bool {
        match self {
            Mode::Pasta(o) => !o.iter().any(|a| a == "--no-map-gw"),
            Mode::Slirp(o) => o.allow_host_loopback,
            _ => false,
        }
    }
}

fn parse_slirp(text: &str) -> Result<SlirpOptions, String> {
    let mut o = SlirpOptions::default();
    for item in text.split(',').filter(|s| !s.is_empty()) {
        let (k, v) = item
            .split_once('=')
            .ok_or_else(|| format!("option \"{item}\" needs a value (KEY=VALUE)"))?;
        let flag = || match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(format!("{k} takes true or false, not \"{v}\"")),
        };
        match k {
            "allow_host_loopback" => o.allow_host_loopback = flag()?,
            "enable_ipv6" => o.enable_ipv6 = flag()?,
            "mtu" => {
                o.mtu = v
                    .parse()
                    .ok()
                    .filter(|m| (68..=65521).contains(m))
                    .ok_or_else(|| format!("mtu must be 68..65521, not \"{v}\""))?
            }
            "cidr" => o.cidr = Some(v.to_string()),
            "outbound_addr" => o.outbound_addr = Some(v.to_string()),
            "outbound_addr6" => o.outbound_addr6 = Some(v.to_string()),
            "port_handler" if v == "slirp4netns" => {}
            "port_handler" => {
                return Err(format!(
                    "port_handler={v} is not supported: nook publishes ports through slirp4netns itself (port_handler=slirp4netns)"
                ))
            }
            _ => return Err(format!("unknown slirp4netns option \"{k}\": use allow_host_loopback, enable_ipv6, mtu, cidr, outbound_addr, outbound_addr6 or port_handler")),
        }
    }
    Ok(o)
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Default => Ok(()),
            Mode::Pasta(o) if !o.is_empty() => write!(f, "pasta:{}", o.join(",")),
            Mode::Slirp(o) => {
                let d = SlirpOptions::default();
                let mut parts = Vec::new();
                if o.allow_host_loopback != d.allow_host_loopback {
                    parts.push(format!("allow_host_loopback={}", o.allow_host_loopback));
                }
                if o.mtu != d.mtu {
                    parts.push(format!("mtu={}", o.mtu));
                }
                if o.enable_ipv6 {
                    parts.push("enable_ipv6=true".into());
                }
                for (k, v) in [
                    ("cidr", &o.cidr),
                    ("outbound_addr", &o.outbound_addr),
                    ("outbound_addr6", &o.outbound_addr6),
                ] {
                    if let Some(v) = v {
                        parts.push(format!("{k}={v}"));
                    }
                }
                if parts.is_empty() {
                    write!(f, "slirp4netns")
                } else {
                    write!(f, "slirp4netns:{}", parts.join(","))
                }
            }
            other => write!(f, "{}", other.name()),
        }
    }
}

impl TryFrom<String> for Mode {
    type Error = NetworkError;
    fn try_from(s: String) -> Result<Mode, NetworkError> {
        Mode::parse(&s)
    }
}

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        m.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_round_trip_as_typed() {
        for text in [
            "none",
            "host",
            "pasta",
            "pasta:--mtu,1500,--no-map-gw",
            "slirp4netns",
            "slirp4netns:allow_host_loopback=false,mtu=1500",
            "container:web",
            "ns:/run/netns/x",
        ] {
            let m = Mode::parse(text).expect(text);
            assert_eq!(m.to_string(), text);
        }
        assert_eq!(Mode::parse("").expect("default"), Mode::Default);
        assert_eq!(
            Mode::parse("pasta:--mtu,1500").expect("pasta"),
            Mode::Pasta(vec!["--mtu".into(), "1500".into()])
        );
        assert!(!Mode::parse("pasta:--no-map-gw")
            .expect("p")
            .maps_host_loopback());
        assert!(Mode::parse("slirp4netns").expect("s").maps_host_loopback());
    }

    #[test]
    fn bad_modes_name_the_value_and_the_fix() {
        for (text, hint) in [
            ("bridge", "pasta or slirp4netns"),
            ("container:", "container:NAME"),
            ("ns:rel", "absolute"),
            ("slirp4netns:mtu=5", "68..65521"),
            (
                "slirp4netns:port_handler=rootlesskit",
                "port_handler=slirp4netns",
            ),
            ("slirp4netns:bogus=1", "unknown slirp4netns option"),
            ("wat", "pasta[:OPTIONS]"),
        ] {
            let e = Mode::parse(text).expect_err(text).to_string();
            assert!(e.contains(text) && e.contains(hint), "{e}");
        }
    }

    #[test]
    fn old_records_still_load() {
        let m: Mode = serde_json::from_str("\"none\"").expect("none");
        assert_eq!(m, Mode::None);
        let m: Mode = serde_json::from_str("\"host\"").expect("host");
        assert_eq!(m, Mode::Host);
        assert_eq!(
            serde_json::to_string(&Mode::Pasta(vec![])).expect("ser"),
            "\"pasta\""
        );
    }
}

/// Whether this network namespace has a default route (IPv4 or IPv6): what pasta needs to pick
/// the interface it copies into the container.
pub fn host_is_routable() -> bool {
    let v4 = std::fs::read_to_string("/proc/net/route").is_ok_and(|t| has_default_v4(&t));
    v4 || std::fs::read_to_string("/proc/net/ipv6_route").is_ok_and(|t| has_default_v6(&t))
}

fn has_default_v4(route: &str) -> bool {
    route.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 7 && f[1] == "00000000" && f[7] == "00000000"
    })
}

fn has_default_v6(route: &str) -> bool {
    route.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 9 && f[0].bytes().all(|b| b == b'0') && f[1] == "00" && f[9] != "lo"
    })
}

#[cfg(test)]
mod route_tests {
    use super::*;

    #[test]
    fn default_routes_are_found_and_loopback_is_not_one() {
        let v4 = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                  eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n";
        assert!(has_default_v4(v4));
        let only_lan = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n\
                        eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert!(!has_default_v4(only_lan));
        let v6_lo = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                     00000000000000000000000000000000 ffffffff 00000001 00000000 00200200 lo\n";
        assert!(!has_default_v6(v6_lo));
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 \
                  fe800000000000000000000000000001 00000400 00000001 00000000 00000003 eth0\n";
        assert!(has_default_v6(v6));
    }
}
