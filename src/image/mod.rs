//! Images: references and short names, the registry client, layer apply and archives.
//! Today it owns the registry configuration (short-name search registries, insecure
//! registries) read from `registries.conf`.

pub mod config;
pub mod digest;
<<<<<<< HEAD
pub mod install;
=======
pub mod layer;
>>>>>>> layer
pub mod manifest;
pub mod pull;
pub mod reference;
pub mod registries;
