//! A container's network as the engine sees it: resolving `--network`, `-p`/`-P`, `--ip` and
//! `--mac-address` at create (the helper chosen, random host ports picked), and at start the
//! runtime's namespace choice, the helper plan, the pre-flight port check and the network
//! part of `/etc/hosts` and `/etc/resolv.conf`; `inspect`'s `NetworkSettings`.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::config::CreateConfig;
use super::{load_config, ContainerError};
use crate::network::{self, addresses, names, ports, Attach, Mode, PortMapping};
use crate::runtime;
use crate::store::{ContainerRecord, ContainerState, Store};

fn net_err(e: network::NetworkError) -> ContainerError {
    ContainerError::Other(e.to_string())
}

/// Create-time checks and choices: the default mode becomes pasta or slirp4netns (or the
/// missing-helper error), `container:NAME` names the container by id, `publish` and `-P`'s
/// `exposed` ports become mappings with free host ports.
pub fn configure(
    store: &Store,
    config: &mut CreateConfig,
    publish: &[String],
    exposed: Option<Vec<String>>,
) -> Result<(), ContainerError> {
    config.network = config.network.clone().resolve().map_err(net_err)?;
    if let Mode::Container(key) = &config.network {
        let other = store.containers().get(key)?;
        config.network = Mode::Container(other.id);
    }
    let mut mappings = Vec::new();
    for p in publish {
        mappings.extend(ports::parse_publish(p).map_err(net_err)?);
    }
    if let Some(exposed) = exposed {
        for p in ports::publish_all(&exposed).map_err(net_err)? {
            if !mappings.iter().any(|m: &PortMapping| {
                m.container_port == p.container_port && m.protocol == p.protocol
            }) {
                mappings.push(p);
            }
        }
    }
    let helper = config.network.has_helper();
    if !mappings.is_empty() && !helper {
        return Err(ContainerError::Other(format!(
            "cannot publish ports with --network {}: published ports need pasta or slirp4netns",
            config.network.name()
        )));
    }
    if config.ip.is_some() && !matches!(config.network, Mode::Pasta(_)) {
        return Err(ContainerError::Other(format!(
            "--ip is not supported with --network {}: use pasta (slirp4netns always gives 10.0.2.100)",
            config.network.name()
        )));
    }
    if config.mac_address.is_some() && !helper {
        return Err(ContainerError::Other(format!(
            "--mac-address is not supported with --network {}: use pasta or slirp4netns",
            config.network.name()
        )));
    }
    for h in &config.add_host {
        names::parse_add_host(h).map_err(net_err)?;
    }
    ports::assign_random(&mut mappings).map_err(net_err)?;
    config.ports = mappings;
    Ok(())
}

/// A running container's pid 1 (for `container:A`), or an error naming it.
fn running_pid(store: &Store, id: &str) -> Result<(ContainerRecord, i32), ContainerError> {
    let rec = super::lifecycle::reconcile(store, store.containers().get(id)?)?;
    match (rec.state, rec.pid) {
        (ContainerState::Running, Some(pid)) => Ok((rec, pid)),
        _ => Err(ContainerError::Other(format!(
            "cannot share the network of container {}: it is not running (start it first)",
            rec.name
        ))),
    }
}

/// The runtime's network namespace for `config`.
pub fn runtime_mode(
    store: &Store,
    config: &CreateConfig,
) -> Result<runtime::NetworkMode, ContainerError> {
    Ok(match &config.network {
        Mode::Host => runtime::NetworkMode::Host,
        Mode::Container(id) => {
            let (_, pid) = running_pid(store, id)?;
            runtime::NetworkMode::Join(PathBuf::from(format!("/proc/{pid}/ns/net")))
        }
        Mode::Ns(p) => runtime::NetworkMode::Join(p.clone()),
        _ => runtime::NetworkMode::None,
    })
}

/// The helper to start, for pasta and slirp4netns.
pub fn attach_plan(store: &Store, rec: &ContainerRecord, config: &CreateConfig) -> Option<Attach> {
    config.network.has_helper().then(|| Attach {
        mode: config.network.clone(),
        ports: config.ports.clone(),
        run_dir: store.paths().container_run_dir(&rec.id),
        mac: config.mac_address.clone(),
        ip: config.ip.clone(),
    })
}

/// The running container (other than `me`) that publishes a port overlapping `p`.
fn claimant(store: &Store, me: &str, p: &PortMapping) -> Option<String> {
    store.containers().list().ok()?.into_iter().find_map(|r| {
        if r.id == me || r.state != ContainerState::Running {
            return None;
        }
        let c = load_config(&r).ok()?;
        c.ports
            .iter()
            .any(|q| ports::overlaps(p, q))
            .then_some(r.name)
    })
}

/// Binds each published host port for a moment: taken or privileged ports fail here, before
/// the container starts, naming the port and who holds it.
pub fn preflight(
    store: &Store,
    rec: &ContainerRecord,
    config: &CreateConfig,
) -> Result<(), ContainerError> {
    ports::preflight(&config.ports, |p| claimant(store, &rec.id, p)).map_err(net_err)
}

/// What the network adds to /etc: the resolv.conf text and the extra hosts lines. `None`
/// for `container:A`, which shares A's files ([`shared_etc`]).
pub fn etc_texts(config: &CreateConfig, rec_name: &str) -> (String, String) {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let a = addresses::addresses(&config.network, &host_resolv);
    let o = names::NameOptions {
        dns: config.dns.clone(),
        dns_search: config.dns_search.clone(),
        dns_option: config.dns_option.clone(),
        add_host: config.add_host.clone(),
    };
    let private = !matches!(config.network, Mode::Host);
    let resolv = names::resolv_conf(&host_resolv, private, a.dns_forwarder.as_deref(), &o);
    let mut own: Vec<&str> = vec![config.hostname.as_str()];
    if rec_name != config.hostname && !rec_name.is_empty() {
        own.push(rec_name);
    }
    let hosts = names::hosts_lines(
        &config.add_host,
        if config.network.maps_host_loopback() {
            a.host_internal.as_deref()
        } else {
            None
        },
        Some((a.ip.as_str(), &own)),
    );
    (resolv, hosts)
}

/// For `container:A`: A's hosts, hostname-free resolv.conf (bind-mounted from A's run dir).
pub fn shared_etc(store: &Store, config: &CreateConfig) -> Option<Vec<(String, PathBuf)>> {
    let Mode::Container(id) = &config.network else {
        return None;
    };
    let dir = store.paths().container_run_dir(id);
    Some(
        ["hosts", "resolv.conf"]
            .iter()
            .map(|f| (format!("/etc/{f}"), dir.join(f)))
            .filter(|(_, p)| p.exists())
            .collect(),
    )
}

/// inspect's `NetworkSettings`.
pub fn settings_json(config: &CreateConfig, running: bool) -> Value {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let a = if running {
        addresses::addresses(&config.network, &host_resolv)
    } else {
        addresses::Addresses::default()
    };
    let ip = config.ip.clone().filter(|_| running).unwrap_or(a.ip);
    json!({
        "EndpointID": "", "Gateway": a.gateway, "IPAddress": ip, "IPPrefixLen": a.prefix,
        "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
        "MacAddress": config.mac_address.clone().unwrap_or_default(), "Bridge": "",
        "SandboxID": "", "HairpinMode": false, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Ports": ports::bindings_json(&config.ports),
        "SandboxKey": "", "NetworkMode": config.network.name(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn etc_texts_name_the_host_and_the_container() {
        let config = CreateConfig {
            network: Mode::Slirp(network::SlirpOptions::default()),
            hostname: "h1".into(),
            add_host: vec!["db:10.9.9.9".into()],
            dns: vec!["1.1.1.1".into()],
            ..Default::default()
        };
        let (resolv, hosts) = etc_texts(&config, "web");
        assert!(resolv.contains("nameserver 1.1.1.1"), "{resolv}");
        assert!(
            hosts.contains("10.0.2.2\thost.containers.internal"),
            "{hosts}"
        );
        assert!(hosts.contains("10.9.9.9\tdb"), "{hosts}");
        assert!(hosts.contains("10.0.2.100\th1 web"), "{hosts}");
        let j = settings_json(&config, true);
        assert_eq!(j["IPAddress"], "10.0.2.100");
        assert_eq!(j["Gateway"], "10.0.2.2");
        assert_eq!(settings_json(&config, false)["IPAddress"], "");
    }
}
