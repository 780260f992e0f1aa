// Errors of the domain XML layer. Both are InputErrors: they are raised while computing new XML,
// before anything is applied to a host, so nothing was touched (exit code 2).

import { InputError, InputErrorCode, type Problem } from '../util/errors.js';

/** The domain XML cannot be read: not well-formed, not a `<domain>`, or a malformed part. */
export class DomainXmlError extends InputError {
  constructor(
    readonly reason: string,
    vm?: string,
  ) {
    super([{ code: InputErrorCode.invalidInput, message: `domain XML: ${reason}`, ...(vm === undefined ? {} : { at: { vm } }) }]);
    this.name = 'DomainXmlError';
  }
}

export const DiskTargetProblem = {
  /** no `<disk>` has that target dev */
  missing: 'missing',
  /** the disk exists but is not `type='block'` (file, network, volume ...) */
  notBlock: 'not-block',
  /** a block disk without `<source dev=...>` */
  noSourceDev: 'no-source-dev',
  /** two `<disk>` elements claim the same target dev */
  duplicate: 'duplicate',
  /** the new source path is empty */
  emptyNewSource: 'empty-new-source',
} as const;
export type DiskTargetProblem = (typeof DiskTargetProblem)[keyof typeof DiskTargetProblem];

export interface DiskTargetFault {
  target: string;
  problem: DiskTargetProblem;
  /** the disk's actual type when problem is not-block */
  actualType?: string;
}

/** Some of the disks asked for cannot have their block source swapped. Lists every fault at once. */
export class DiskTargetError extends InputError {
  constructor(
    readonly vm: string,
    readonly faults: readonly DiskTargetFault[],
  ) {
    super(faults.map((f) => diskTargetProblem(vm, f)));
    this.name = 'DiskTargetError';
  }
}

function diskTargetProblem(vm: string, fault: DiskTargetFault): Problem {
  const at = { vm };
  switch (fault.problem) {
    case DiskTargetProblem.missing:
      return { code: InputErrorCode.notFound, message: `no disk with target dev '${fault.target}'`, hint: 'check the target names with `virsh domblklist`', at };
    case DiskTargetProblem.notBlock:
      return {
        code: InputErrorCode.unsupported,
        message: `disk '${fault.target}' is type='${fault.actualType ?? '?'}', only type='block' disks can be moved`,
        hint: 'leave this disk out of the VM\'s disk list',
        at,
      };
    case DiskTargetProblem.noSourceDev:
      return { code: InputErrorCode.unsupported, message: `block disk '${fault.target}' has no <source dev=...>`, at };
    case DiskTargetProblem.duplicate:
      return { code: InputErrorCode.invalidInput, message: `more than one disk has target dev '${fault.target}'`, at };
    case DiskTargetProblem.emptyNewSource:
      return { code: InputErrorCode.invalidInput, message: `the new source for disk '${fault.target}' is empty`, at };
  }
}
