// Every command of the sanshift CLI, in the order `--help` lists them.
import type { CliCommand } from './command.js';
import { planCli } from './plan.js';
import { rollbackCli, runCli } from './run.js';
import { simulateCli } from './simulate.js';
import { discoverCli } from './discover.js';
import { doctorCli } from './doctor.js';
import { pauseCli } from './pause.js';
import { reportCli } from './report.js';
import { statusCli } from './status.js';

export const commands: readonly CliCommand[] = [planCli, simulateCli, runCli, pauseCli, statusCli, rollbackCli, reportCli, doctorCli, discoverCli];
