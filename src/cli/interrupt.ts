// Ctrl-C during a run: the first asks for a pause (the windows in progress finish, no new one
// starts), the second asks to stop at the next safe point. Killing sanshift outright is always
// safe too (the journal is written ahead, I4), but a stop between two steps leaves less to do.
// A hangup (the ssh session or terminal of the run went away, SIGHUP) changes nothing: the run
// goes on, its output dropped (io.ts), its journal the record, `sanshift pause` from another
// session the way to stop it. By default a hangup ends a Node process at once, a VM in the
// middle of its window left off; and `nohup` cannot prevent it, since Node sets every signal
// back to its default when it starts.
import type { EventEmitter } from 'node:events';

export interface InterruptHandlers {
  /** first Ctrl-C */
  pause(): void;
  /** second Ctrl-C */
  stop(): void;
  /** the terminal went away (SIGHUP), the first time */
  hangup(): void;
}

/** Listens for SIGINT and SIGHUP on `target` (the process); returns the function that stops listening. */
export function installInterrupts(target: Pick<EventEmitter, 'on' | 'off'>, handlers: InterruptHandlers): () => void {
  let count = 0;
  const onSignal = (): void => {
    count++;
    if (count === 1) handlers.pause();
    else if (count === 2) handlers.stop();
    // a third Ctrl-C while the stop is under way changes nothing: the stop is already asked for
  };
  let hungUp = false;
  const onHangup = (): void => {
    if (hungUp) return;
    hungUp = true;
    handlers.hangup();
  };
  target.on('SIGINT', onSignal);
  target.on('SIGHUP', onHangup);
  return () => {
    target.off('SIGINT', onSignal);
    target.off('SIGHUP', onHangup);
  };
}

export const PAUSE_ON_CTRL_C =
  'pause requested (Ctrl-C): the windows in progress finish, no new window starts, then the run exits; `sanshift run` again resumes. Ctrl-C again to stop at the next safe point.\n';
export const GOING_ON_AFTER_HANGUP =
  'the terminal went away (SIGHUP): the run goes on; `sanshift status` shows it, `sanshift pause` drains it\n';
export const STOP_ON_CTRL_C = 'stop requested (second Ctrl-C): stopping at the next safe point; `sanshift run` again continues where things stand.\n';
