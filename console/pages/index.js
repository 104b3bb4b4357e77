// Every page of the console, in navigation order; the shell shows the ones the user's role may see.
// A page: export default { id, title, roles: [...], render: async (root, {path, query}) => {} }.
// The shell draws the page's <h1> from its title; render fills `root` below it.
import overview from './overview.js';
import calls from './calls.js';
import audit from './audit.js';
import doctor from './doctor.js';

export default [overview, calls, audit, doctor];
