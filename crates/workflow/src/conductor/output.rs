//! The workflow output, as Orquesta renders it (`render_workflow_output`):
//! from the terminal context (the contexts of the terminal tasks merged in
//! sequence order), each output seeing the earlier ones. Outputs that
//! render are kept even when others fail; a failure fails the workflow
//! (unless it was canceled) and is logged.

use serde_json::{Map, Value};

use super::machines::St;
use super::state::merge_into;
use super::view::StateView;
use super::Conductor;
use crate::expr::{evaluate_value, Env, Scope};

impl Conductor {
    /// Orquesta's `get_workflow_terminal_context`.
    fn terminal_context(&self) -> Map<String, Value> {
        let mut terms = self.state.sequence.iter().filter(|e| e.term);
        let Some(first) = terms.next() else {
            return Map::new();
        };
        let mut ctx = self.state.merged(&first.ctxs);
        for e in terms {
            // The others without the initial context (Orquesta removes the 0).
            for id in &e.ctxs {
                merge_into(&mut ctx, &self.state.contexts[*id as usize]);
            }
        }
        ctx
    }

    pub(super) fn render_output(&mut self, env: &dyn Env) {
        // A workflow whose input or vars failed to render never started: it
        // has no output and no output errors (StackStorm's
        // `orquesta-fail-input-rendering` and `-vars-rendering` fail with the
        // rendering error alone, output null).
        if self.state.contexts.is_empty() {
            return;
        }
        let ctx = self.terminal_context();
        let mut rolling = ctx;
        let mut output = Map::new();
        let mut errors = Vec::new();
        {
            let view = StateView::new(self);
            for o in &self.spec.output {
                let scope = Scope {
                    statuses: &view,
                    ..Scope::workflow(&rolling, env)
                };
                match evaluate_value(&o.value, &scope) {
                    Ok(v) => {
                        rolling.insert(o.name.clone(), v.clone());
                        output.insert(o.name.clone(), v);
                    }
                    Err(e) => errors.push(e),
                }
            }
        }
        if !output.is_empty() {
            self.state.output = Some(output);
        }
        if !errors.is_empty() {
            for e in errors {
                self.log_error(e.to_string(), None, None);
            }
            if !matches!(
                self.state.status,
                St::Timeout | St::Abandoned | St::Canceled
            ) {
                self.request_workflow_status(St::Failed, env);
            }
        }
    }
}
