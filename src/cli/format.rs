//! TEMP stub until the format engine lands.
#[derive(Debug, thiserror::Error)]
#[error("x")]
pub struct FormatError;
pub struct Template;
impl Template {
    pub fn parse(_s: &str) -> Result<Template, FormatError> { Ok(Template) }
    pub fn is_default_table(&self) -> bool { false }
    pub fn render(&self, _v: &serde_json::Value) -> Result<String, FormatError> { Ok(String::new()) }
}
pub enum OutputFormat { Default, Json, Template(Template) }
impl OutputFormat { pub fn parse(_f: Option<&str>) -> Result<Self, FormatError> { Ok(OutputFormat::Default) } }
pub fn render_list(_t: &Template, _r: &[serde_json::Value], _h: &dyn Fn(&str) -> Option<String>) -> Result<String, FormatError> { Ok(String::new()) }
pub fn to_json_pretty(v: &serde_json::Value) -> String { v.to_string() }
