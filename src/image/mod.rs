//! Images: references and short names, the registry client, layer apply and archives.
//! Today it owns the registry configuration (short-name search registries, insecure
//! registries) read from `registries.conf`.

pub mod config;
pub mod digest;
pub mod layer;
pub mod manifest;
pub mod reference;
pub mod registries;
