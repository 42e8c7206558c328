//! StackStorm's own check of a workflow's tasks before it runs
//! (`st2common/services/workflows.py`, `inspect_task_contents`, with
//! `action_param_utils.validate_action_parameters`): every task's action is
//! registered, no required parameter is missing from its input, and no
//! input is a parameter the action does not have. Orquesta's own checks
//! (including an action reference without a pack) are the workflow crate's.

use stormdesk_workflow::{expr, InspectionError, WorkflowSpec};

use crate::catalog::Catalog;
use crate::pack::Pack;

/// The content errors of `spec`, whose own pack is `own` (taken at the
/// workflow's revision, so its tasks find the actions of that revision);
/// other packs are looked up in `catalog`. Errors come in StackStorm's order
/// (it sorts by schema path): unknown actions, then missing inputs, then
/// unexpected ones, each in task order.
pub(crate) fn inspect_contents(
    spec: &WorkflowSpec,
    own: &Pack,
    catalog: &Catalog,
) -> Vec<InspectionError> {
    let mut unknown = Vec::new();
    let mut missing = Vec::new();
    let mut unexpected = Vec::new();
    for (task, t) in &spec.tasks {
        let Some(action) = t.action.as_deref() else {
            continue;
        };
        // An expression is resolved when the task runs; a reference without a
        // pack or with text after it is the workflow crate's error.
        if expr::language(action).is_some()
            || !action.contains('.')
            || action.contains(char::is_whitespace)
        {
            continue;
        }
        let error = |field: String, message: String| InspectionError {
            task: Some(task.clone()),
            field,
            message,
        };
        let (pack_name, name) = action.split_once('.').unwrap_or_default();
        let pack = if pack_name == own.name {
            Some(own)
        } else {
            catalog.pack(pack_name).ok()
        };
        let Some(pack) = pack else {
            unknown.push(error(
                "action".into(),
                format!("The action \"{action}\" is not registered in the database."),
            ));
            continue;
        };
        let Some(found) = pack.actions.get(name) else {
            // An action of a runner Stormdesk does not run is registered all
            // the same: it fails when the task runs, with the reason.
            if !pack.unsupported.iter().any(|u| u.name == name) {
                unknown.push(error(
                    "action".into(),
                    format!("The action \"{action}\" is not registered in the database."),
                ));
            }
            continue;
        };
        let parameters = found.effective_parameters();
        let mut required: Vec<&String> = parameters
            .iter()
            .filter(|(name, p)| p.required && p.default.is_none() && !t.input.contains_key(*name))
            .map(|(name, _)| name)
            .collect();
        required.sort();
        for param in required {
            missing.push(error(
                "input".into(),
                format!("Action \"{action}\" is missing required input \"{param}\"."),
            ));
        }
        let mut extra: Vec<&String> = t
            .input
            .keys()
            .filter(|k| !parameters.contains_key(*k))
            .collect();
        extra.sort();
        for param in extra {
            unexpected.push(error(
                format!("input.{param}"),
                format!("Action \"{action}\" has unexpected input \"{param}\"."),
            ));
        }
    }
    unknown.extend(missing);
    unknown.extend(unexpected);
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &std::path::Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn unknown_actions_and_inputs_are_reported_as_stackstorm_reports_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("p");
        write(&dir, "pack.yaml", "ref: p\nname: p\nversion: 0.1.0\n");
        write(
            &dir,
            "actions/say.yaml",
            "name: say\nrunner_type: local-shell-cmd\nparameters:\n  message: {type: string, required: true}\n  loud: {type: boolean, required: true, default: false}\n  cmd: {immutable: true, default: 'echo {{message}}'}\n",
        );
        write(
            &dir,
            "actions/legacy.yaml",
            "name: legacy\nrunner_type: mistral-v2\nentry_point: legacy.yaml\n",
        );
        let catalog = Catalog::load(&[tmp.path().to_path_buf()]);
        let own = catalog.pack("p").unwrap();
        let spec = WorkflowSpec::from_yaml(
            r#"version: 1.0
tasks:
  ok:
    action: p.say message=hi
    next:
      - do: [wrong_input, gone, elsewhere, dynamic, unsupported, bare]
  wrong_input:
    action: p.say
    input:
      messages: hi
      timeout: 5
  gone:
    action: p.nope
  elsewhere:
    action: other.thing
  dynamic:
    action: <% ctx().name %>
  unsupported:
    action: p.legacy
    input:
      anything: 1
  bare:
    action: say
"#,
        )
        .unwrap();
        let errors: Vec<String> = inspect_contents(&spec, own, &catalog)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "task \"gone\" action: The action \"p.nope\" is not registered in the database.",
                "task \"elsewhere\" action: The action \"other.thing\" is not registered in the database.",
                "task \"wrong_input\" input: Action \"p.say\" is missing required input \"message\".",
                "task \"wrong_input\" input.messages: Action \"p.say\" has unexpected input \"messages\".",
            ]
        );
    }
}
