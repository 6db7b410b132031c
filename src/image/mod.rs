//! Images: references and short names, the registry client, layer apply and archives.
//! Today it owns the registry configuration (short-name search registries, insecure
//! registries) read from `registries.conf`, the registry client and the credentials file.

pub mod authfile;
pub mod digest;
pub mod reference;
pub mod registries;
pub mod registry;
