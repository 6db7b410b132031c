//! Seeds a registry for the benchmarks in `bench/` with the same fixture code the tests use.
//! Not part of the test run: it only exists when `NOOK_BENCH_REGISTRY` is set, as
//! `bench/pull.sh` does: `NOOK_BENCH_REGISTRY=127.0.0.1:PORT cargo test --test integration --
//! --ignored bench::seed`.

use crate::support::images;
use crate::support::registry::Http;
use crate::support::Trial;

pub fn tests() -> Vec<Trial> {
    if std::env::var_os("NOOK_BENCH_REGISTRY").is_none() {
        return Vec::new();
    }
    vec![Trial::test("bench::seed_large_image", seed).with_ignored_flag(true)]
}

fn seed() -> Result<(), libtest_mimic::Failed> {
    let host = std::env::var("NOOK_BENCH_REGISTRY").map_err(|_| {
        "NOOK_BENCH_REGISTRY=host:port must name the registry to seed (bench/pull.sh sets it)"
    })?;
    let http = Http::new(&format!("http://{host}"));
    let fx = images::large(&http, &host).map_err(|e| format!("pushing the large image: {e:#}"))?;
    let compressed: u64 = fx.layer_digests.len() as u64;
    println!(
        "seeded {}/{}:{} ({} layers, {} bytes uncompressed, config {})",
        fx.registry, fx.name, fx.tag, compressed, fx.uncompressed_size, fx.config_digest
    );
    Ok(())
}
