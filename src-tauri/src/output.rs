//! Following one execution's output: the recorded backlog, then live chunks
//! from the bus, each chunk once and in `seq` order, until it completes.

use stormdesk_engine::{Engine, EngineError, Event, Execution, ExecutionOutput};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

/// Passes chunks with `seq` past the last one passed; `false` from the sink
/// (the receiver went away) stops following.
struct Cursor<F> {
    next: u64,
    sink: F,
    open: bool,
}

impl<F: FnMut(ExecutionOutput) -> bool> Cursor<F> {
    fn push(&mut self, chunk: ExecutionOutput) {
        if self.open && chunk.seq >= self.next {
            self.next = chunk.seq + 1;
            self.open = (self.sink)(chunk);
        }
    }

    fn after_seq(&self) -> Option<u64> {
        self.next.checked_sub(1)
    }

    async fn catch_up(&mut self, engine: &Engine, id: &str) -> Result<(), EngineError> {
        for chunk in engine.output(id, self.after_seq()).await? {
            self.push(chunk);
        }
        Ok(())
    }
}

/// Sends the output of execution `id` after `after_seq` to `sink` and returns
/// the execution once it has completed (or as soon as `sink` returns `false`).
pub async fn follow(
    engine: &Engine,
    id: &str,
    after_seq: Option<u64>,
    sink: impl FnMut(ExecutionOutput) -> bool,
) -> Result<Execution, EngineError> {
    let mut cursor = Cursor {
        next: after_seq.map_or(0, |s| s + 1),
        sink,
        open: true,
    };
    // Subscribe before reading the backlog so no chunk falls between the two;
    // the cursor drops the ones seen twice.
    let mut bus = engine.subscribe();
    cursor.catch_up(engine, id).await?;
    let execution = engine.execution(id).await?;
    if execution.status.is_completed() {
        // Chunks published between the backlog read and the status read.
        loop {
            match bus.try_recv() {
                Ok(ev) => {
                    if let Event::Output { output } = ev.event {
                        if output.execution_id == id {
                            cursor.push(output);
                        }
                    }
                }
                Err(TryRecvError::Lagged(_)) => continue,
                Err(_) => break,
            }
        }
        cursor.catch_up(engine, id).await?;
        return Ok(execution);
    }
    while cursor.open {
        match bus.recv().await {
            Ok(ev) => match ev.event {
                Event::Output { output } if output.execution_id == id => cursor.push(output),
                Event::Execution { execution, .. }
                    if execution.id == id && execution.status.is_completed() =>
                {
                    cursor.catch_up(engine, id).await?;
                    return Ok(*execution);
                }
                _ => {}
            },
            Err(RecvError::Lagged(_)) => {
                cursor.catch_up(engine, id).await?;
                let execution = engine.execution(id).await?;
                if execution.status.is_completed() {
                    cursor.catch_up(engine, id).await?;
                    return Ok(execution);
                }
            }
            Err(RecvError::Closed) => break,
        }
    }
    engine.execution(id).await
}
