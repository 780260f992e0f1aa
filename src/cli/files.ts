// Files a command writes for the operator (a saved plan, a timeline page, a metrics file):
// written whole or not at all, and refused before any work when they cannot be written.
import { accessSync, closeSync, constants, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { InputError, InputErrorCode } from '../util/errors.js';

/** Refuses (exit 2, nothing done) a file whose folder does not exist or cannot be written. */
export function checkWritableFolder(file: string, option: string): void {
  const folder = dirname(resolve(file));
  let isDir = false;
  try {
    isDir = statSync(folder).isDirectory();
    accessSync(folder, constants.W_OK);
  } catch (err) {
    throw InputError.one({ code: InputErrorCode.invalidInput, message: `${option} ${file}: ${isDir ? `the folder ${folder} is not writable` : `the folder ${folder} does not exist`} (${(err as Error).message})`, hint: `pass a file in an existing, writable folder to ${option}` });
  }
  if (!isDir) throw InputError.one({ code: InputErrorCode.invalidInput, message: `${option} ${file}: ${folder} is not a folder`, hint: `pass a file in an existing folder to ${option}` });
  try {
    if (statSync(file).isDirectory()) throw InputError.one({ code: InputErrorCode.invalidInput, message: `${option} ${file} is a folder`, hint: `pass a file name to ${option}` });
  } catch (err) {
    if (err instanceof InputError) throw err;
    // no such file yet: it will be created
  }
}

/**
 * Writes `text` to a temporary file in the same folder, flushes it, then renames it over
 * `file`: a reader (node_exporter, a browser, `run --plan`) sees the old file or the new one,
 * never half of one. The temporary name starts with a dot and does not end in `.prom`, so
 * node_exporter's textfile collector never reads it.
 */
export function writeFileAtomically(file: string, text: string): void {
  const target = resolve(file);
  const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  try {
    renameSync(tmp, target);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}
