// What the engine tells the outside world while it works. A union keyed on `kind`; the report
// layer has one formatter per kind (a new kind without a formatter does not compile).

export type EngineEvent =
  | { kind: 'run-started'; at: number; run: string; vms: string[]; rehearsal: boolean }
  | { kind: 'step-started'; at: number; vm: string; step: string; target?: string; summary: string }
  | { kind: 'step-finished'; at: number; vm: string; step: string; target?: string; ms: number }
  | { kind: 'progress'; at: number; vm: string; percent: number; speedKiBs: number | null; etaSeconds: number | null; doneBytes: number; totalBytes: number }
  | { kind: 'resync-ended'; at: number; vm: string; targets: string[]; bytes: number | null }
  | { kind: 'note'; at: number; vm: string; text: string }
  | { kind: 'down'; at: number; vm: string; window: 'T1' | 'T2' | 'rollback' }
  | { kind: 'up'; at: number; vm: string; window: 'T1' | 'T2' | 'rollback'; downMs: number }
  | { kind: 'vm-finished'; at: number; vm: string; outcome: 'done' | 'failed' | 'rolled-back'; reason?: string }
  | { kind: 'run-finished'; at: number; run: string; done: number; failed: number; rolledBack: number };

export type EngineEventKind = EngineEvent['kind'];
export type EventSink = (event: EngineEvent) => void;
