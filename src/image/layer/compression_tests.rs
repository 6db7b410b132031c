use std::io::{BufReader, Write};

use super::*;

/// Incompressible bytes (xorshift), so a cut lands inside compressed data.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

fn zstd(data: &[u8]) -> Vec<u8> {
    zstd::encode_all(data, 1).expect("zstd")
}

fn read_all(media_type: &str, blob: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    open_layer(media_type, BufReader::new(blob))
        .map_err(|e| e.to_string())?
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

use crate::image::manifest::{
    DOCKER_LAYER_GZIP as DOCKER_GZIP, OCI_LAYER_GZIP as OCI_GZIP, OCI_LAYER_TAR as OCI_TAR,
    OCI_LAYER_ZSTD as OCI_ZSTD,
};

#[test]
fn media_types_map_to_compressions() {
    for (mt, want) in [
        (OCI_TAR, Compression::None),
        (OCI_GZIP, Compression::Gzip),
        (OCI_ZSTD, Compression::Zstd),
        (DOCKER_GZIP, Compression::Gzip),
        (
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
            Compression::Gzip,
        ),
        (
            "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
            Compression::Zstd,
        ),
        (
            "application/vnd.docker.image.rootfs.diff.tar",
            Compression::None,
        ),
    ] {
        assert_eq!(Compression::from_media_type(mt).expect(mt), want, "{mt}");
    }
    for mt in [
        "text/html",
        "",
        "application/octet-stream",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.image.layer.v1.tar+xz",
    ] {
        let err = Compression::from_media_type(mt).expect_err(mt);
        assert!(
            matches!(err, LayerError::UnknownMediaType(_)),
            "{mt}: {err}"
        );
        assert!(err.to_string().contains(&format!("\"{mt}\"")), "{err}");
    }
}

#[test]
fn magic_bytes_are_classified() {
    assert_eq!(Magic::of(&[0x1f, 0x8b, 8]), Magic::Gzip);
    assert_eq!(Magic::of(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Magic::Zstd);
    assert_eq!(Magic::of(b"\xfd7zXZ\0"), Magic::Xz);
    assert_eq!(Magic::of(b"BZh91AY"), Magic::Bzip2);
    assert_eq!(Magic::of(b"etc/passwd\0\0"), Magic::Plain);
    assert_eq!(Magic::of(b""), Magic::Empty);
}

#[test]
fn round_trips_each_compression() {
    let data = noise(300_000);
    assert_eq!(read_all(OCI_TAR, &data).expect("tar"), data);
    assert_eq!(read_all(OCI_GZIP, &gzip(&data)).expect("gzip"), data);
    assert_eq!(
        read_all(DOCKER_GZIP, &gzip(&data)).expect("docker gzip"),
        data
    );
    assert_eq!(read_all(OCI_ZSTD, &zstd(&data)).expect("zstd"), data);
    // Several gzip members (pigz, concatenated streams) and several zstd frames.
    let mut multi = gzip(&data[..1000]);
    multi.extend(gzip(&data[1000..]));
    assert_eq!(read_all(OCI_GZIP, &multi).expect("multi-member gzip"), data);
    let mut frames = zstd(&data[..1000]);
    frames.extend(zstd(&data[1000..]));
    assert_eq!(read_all(OCI_ZSTD, &frames).expect("multi-frame zstd"), data);
}

#[test]
fn a_media_type_that_lies_is_refused() {
    let data = noise(1000);
    let err = read_all(OCI_GZIP, &zstd(&data)).expect_err("zstd under gzip");
    assert!(
        err.contains(OCI_GZIP) && err.contains("says gzip") && err.contains("zstd-compressed"),
        "{err}"
    );
    let err = read_all(OCI_ZSTD, &gzip(&data)).expect_err("gzip under zstd");
    assert!(err.contains("gzip-compressed"), "{err}");
    let err = read_all(OCI_TAR, &gzip(&data)).expect_err("gzip under tar");
    assert!(err.contains("says uncompressed"), "{err}");
    let err = read_all(DOCKER_GZIP, b"plain bytes").expect_err("plain under gzip");
    assert!(err.contains("not compressed"), "{err}");
    let err = read_all(OCI_GZIP, b"").expect_err("empty under gzip");
    assert!(err.contains("empty"), "{err}");
    let err = read_all(OCI_TAR, b"\xfd7zXZ\0rest").expect_err("xz");
    assert!(err.contains("xz"), "{err}");
}

#[test]
fn truncated_gzip_is_an_error() {
    let data = noise(200_000);
    let blob = gzip(&data);
    for cut in [
        blob.len() / 2,
        blob.len() - 8,
        blob.len() - 4,
        blob.len() - 1,
    ] {
        let err = read_all(OCI_GZIP, &blob[..cut])
            .expect_err(&format!("gzip cut at {cut} of {}", blob.len()));
        assert!(err.contains("gzip stream is truncated or corrupt"), "{err}");
    }
    // A wrong CRC in the trailer.
    let mut bad = blob.clone();
    let at = bad.len() - 8;
    bad[at] ^= 0xff;
    assert!(read_all(OCI_GZIP, &bad).is_err(), "crc mismatch accepted");
    // Garbage after the last member.
    let mut trailing = blob;
    trailing.extend_from_slice(b"garbage!");
    assert!(
        read_all(OCI_GZIP, &trailing).is_err(),
        "trailing garbage accepted"
    );
}

#[test]
fn truncated_zstd_is_an_error() {
    let data = noise(200_000);
    let blob = zstd(&data);
    for cut in [blob.len() / 2, blob.len() - 1] {
        let err = read_all(OCI_ZSTD, &blob[..cut])
            .expect_err(&format!("zstd cut at {cut} of {}", blob.len()));
        assert!(err.contains("zstd stream is truncated or corrupt"), "{err}");
    }
}
