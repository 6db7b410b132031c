//! TEMP
use super::args::{GlobalOptions, ImagesArgs, PsArgs};
pub fn ps(_g: &GlobalOptions, _a: &PsArgs) -> anyhow::Result<i32> { Ok(0) }
pub fn images(_g: &GlobalOptions, _a: &ImagesArgs) -> anyhow::Result<i32> { Ok(0) }
