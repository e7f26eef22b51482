/**
 * The lab's commands for `hafw` (lab, demo, drill against the lab). The CLI loads this
 * module by its path, only in a source checkout (node/cli/lab-loader.ts): the shipped code
 * never imports the lab, and the container image leaves it out.
 */
import type { LabCommands } from '../../node/cli/lab-loader.js';
import { labCommand } from './lab-cmd.js';
import { demoCommand } from './demo-cmd.js';
import { labDrill } from './lab-drill.js';

export const labCommands: LabCommands = { lab: labCommand, demo: demoCommand, drill: labDrill };
