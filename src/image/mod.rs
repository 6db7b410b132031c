//! Images: references and short names ([`reference`]), manifests and configs, the registry
//! client ([`registry`]) and its credentials ([`authfile`]), pulling ([`pull`]) and installing
//! ([`install`]) images into the store, pushing them ([`push`], blobs in `push_blobs`),
//! importing root filesystems ([`import`], with [`changes`] and [`tar_dir`]), writing new
//! blobs ([`blob_writer`]) and applying layer tars safely ([`layer`]). Registry settings come
//! from `registries.conf` ([`registries`]). `save` and `load` read and write image archives
//! (docker-archive, oci-archive, oci-dir: [`archive`]). [`commit`] turns a container's changes
//! into a layer and a new image (`commit`, the build executor).

pub mod archive;
pub mod authfile;
pub mod blob_writer;
pub mod changes;
pub mod commit;
pub mod config;
pub mod digest;
pub mod import;
pub mod install;
pub mod layer;
pub mod manifest;
pub mod pull;
pub mod push;
mod push_blobs;
pub mod reference;
pub mod registries;
pub mod registry;
pub mod tar_dir;
