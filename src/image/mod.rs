//! Images: references and short names, the registry client, layer apply and archives.
//! Today it owns the registry configuration (short-name search registries, insecure
//! registries) read from `registries.conf`, manifests and configs, the registry client and
//! the credentials file (`auth.json`).

pub mod authfile;
pub mod config;
pub mod digest;
pub mod manifest;
pub mod reference;
pub mod registries;
pub mod registry;
