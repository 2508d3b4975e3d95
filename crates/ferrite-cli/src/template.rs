//! `ferrite template MODEL --messages FILE.json`: the exact prompt text the
//! model's chat template renders (nothing added), for debugging templates.

use std::path::PathBuf;

use ferrite_chat::Json;
use ferrite_engine::{load_templates, load_tokenizer};
use ferrite_models::ModelSource;

use crate::output::print;

#[derive(clap::Args)]
pub struct Args {
    /// A Hugging Face model directory or a GGUF file
    model: PathBuf,
    /// A JSON file: a list of messages, or {"messages": [...], "tools": [...]}
    #[arg(long, value_name = "FILE")]
    messages: PathBuf,
    /// Do not end with the assistant turn header
    #[arg(long)]
    no_generation_prompt: bool,
    /// A chat template file to use instead of the model's
    #[arg(long, value_name = "FILE")]
    template: Option<PathBuf>,
}

pub fn run(args: Args) -> crate::Result<()> {
    let text = std::fs::read_to_string(&args.messages)
        .map_err(|e| format!("{}: cannot read: {e}", args.messages.display()))?;
    // serde_json's `preserve_order` (enabled for the workspace) keeps every
    // object's keys in file order, as Python's json.load does: templates print
    // tool schemas and messages with `tojson`, and transformers keeps the order.
    let input: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not valid JSON: {e}", args.messages.display()))?;
    let (messages, tools) = match input {
        serde_json::Value::Array(_) => (input, None),
        serde_json::Value::Object(mut o) => match o.remove("messages") {
            Some(m) => (m, o.remove("tools")),
            None => {
                return Err(format!(
                    "{}: the object has no \"messages\" list",
                    args.messages.display()
                )
                .into())
            }
        },
        _ => {
            return Err(format!(
                "{}: expected a list of messages or {{\"messages\": [...]}}",
                args.messages.display()
            )
            .into())
        }
    };
    let source = ModelSource::open(&args.model)?;
    let mut templates = match &source {
        ModelSource::HfDir(dir) => ferrite_chat::ModelTemplates::from_hf_dir(dir)?,
        ModelSource::Gguf(_) => load_templates(&source, &load_tokenizer(&source)?)?,
    };
    if let Some(path) = &args.template {
        let src = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        templates.templates.clear();
        templates
            .templates
            .insert("default".into(), ferrite_chat::ChatTemplate::new(&src)?);
    }
    let template = templates.select(tools.is_some())?;
    let mut render = templates.args(Json::from(messages));
    render.add_generation_prompt = !args.no_generation_prompt;
    render.tools = tools.map(Json::from);
    let text = template
        .render(&render)
        .map_err(|e| -> Box<dyn std::error::Error> {
            match e {
                // Messages or tools of the wrong shape: the messages file is at fault.
                ferrite_chat::Error::Input(_) => format!("{}: {e}", args.messages.display()).into(),
                e => e.into(),
            }
        })?;
    print(&text)
}
