// What the engine tells the outside world while it works. A union keyed on `kind`; the report
// layer has one formatter per kind (a new kind without a formatter does not compile).

/** A down window: T1 (onto the mirrors), T2 (onto NEW), or a rollback's restart on OLD. */
export type WindowName = 'T1' | 'T2' | 'rollback';

/** What a window cost: from the guest off to its start returned (`downMs`), from the shutdown
 * request (`windowMs`), and the host commands and libvirt calls made while the VM was off. */
export interface WindowFigures {
  downMs: number;
  windowMs?: number;
  hostCommands?: number;
  libvirtCalls?: number;
}

export type EngineEvent =
  | { kind: 'run-started'; at: number; run: string; vms: string[]; rehearsal: boolean }
  | { kind: 'step-started'; at: number; vm: string; step: string; target?: string; summary: string }
  | { kind: 'step-finished'; at: number; vm: string; step: string; target?: string; ms: number }
  | { kind: 'progress'; at: number; vm: string; percent: number; speedKiBs: number | null; etaSeconds: number | null; doneBytes: number; totalBytes: number }
  | { kind: 'resync-ended'; at: number; vm: string; targets: string[]; bytes: number | null }
  | { kind: 'note'; at: number; vm: string; text: string }
  | { kind: 'down'; at: number; vm: string; window: WindowName }
  | ({ kind: 'up'; at: number; vm: string; window: WindowName } & WindowFigures)
  | { kind: 'vm-finished'; at: number; vm: string; outcome: 'done' | 'failed' | 'rolled-back'; reason?: string }
  | { kind: 'run-finished'; at: number; run: string; done: number; failed: number; rolledBack: number };

export type EngineEventKind = EngineEvent['kind'];
export type EventSink = (event: EngineEvent) => void;
