// Every page of the console, in navigation order; the shell shows the ones the user's role may see.
// A page: export default { id, title, roles: [...], render: async (root, {path, query}) => {} }.
// The shell draws the page's <h1> from its title; render fills `root` below it.
import overview from './overview.js';
import services from './services.js';
import providers from './providers.js';
import mcp from './mcp.js';
import consumers from './consumers.js';
import subscriptions from './subscriptions.js';
import policies from './policies.js';
import calls from './calls.js';
import audit from './audit.js';
import teams from './teams.js';
import users from './users.js';
import doctor from './doctor.js';

export default [overview, services, providers, mcp, consumers, subscriptions, policies, calls, audit, teams, users, doctor];
