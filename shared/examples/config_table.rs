//! Prints the functions' configuration variables ([`shared::config::VARIABLES`]) as JSON: name,
//! default, range and meaning. `dev/config_table.py` writes docs/configuration.md's table from it, and
//! `dev/tests/test_config.py` holds template.yaml's Parameters and `dev/local.env` to it.

use serde_json::{Value, json};
use shared::config::{Unset, VARIABLES};

fn main() {
    let variables: Vec<Value> = VARIABLES
        .iter()
        .map(|variable| {
            let (kind, default) = match variable.default {
                Unset::Required => ("required", Value::Null),
                Unset::OneOf(other) => ("one_of", json!(other)),
                Unset::Text(text) => ("text", json!(text)),
                Unset::Number(number) => ("number", json!(number)),
            };
            json!({
                "name": variable.name,
                "default_kind": kind,
                "default": default,
                "min": variable.range.map(|(min, _)| min),
                "max": variable.range.map(|(_, max)| max),
                "doc": variable.doc,
            })
        })
        .collect();
    #[allow(clippy::print_stdout)] // printing the table is this example's whole job
    {
        println!("{}", Value::Array(variables));
    }
}
