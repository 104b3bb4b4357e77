// contract.mjs: the fixture contract of the official MCP conformance suite
// (@modelcontextprotocol/conformance), for relay.mjs: its tools, resources, prompts and
// completions, answering as the suite's scenarios describe. Each handler takes what the SDK's
// request handler gets (the request and its extra) and returns the result; a thrown McpError
// becomes the JSON-RPC error.
//   tools      test_simple_text ... test_elicitation (content, logging, progress, asking the
//              client), test_elicitation_sep1034_defaults, test_elicitation_sep1330_enums,
//              json_schema_2020_12_tool, test_reconnection (closes its SSE stream before it
//              answers, when the client can resume), test_dynamic_tool (adds a resource and a
//              prompt and announces both lists changed), test_touch_watched (changes
//              test://watched-resource and tells its subscribers); the input-required contract
//              of the 2026-07-28 revision, test_input_required_result_elicitation ... _capabilities
//              (each asks the client over the 2025 protocol: a gateway turns the question into an
//              input_required result for a 2026-07-28 client and its retry into the answer), and
//              the stateless era's diagnostics test_missing_capability, test_streaming_elicitation,
//              test_logging_tool, test_trigger_tool_change, test_trigger_prompt_change
//   resources  test://static-text, test://static-binary, test://watched-resource (subscribable),
//              the template test://template/{id}/data
//   prompts    test_simple_prompt, test_prompt_with_arguments, test_prompt_with_embedded_resource,
//              test_prompt_with_image, test_input_required_result_prompt (asks the client for its
//              context first)
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../node/package.json'));
const { CreateMessageResultSchema, ElicitResultSchema, ListRootsResultSchema, McpError, ErrorCode } =
    require('@modelcontextprotocol/sdk/types.js');

const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiQAAABXQVZFZm10IBAAAAABAAEAQB8AAEAfAAABAAgAZGF0YQAAAAA=';
// The resource-not-found code of the 2025 revisions.
const RESOURCE_NOT_FOUND = -32002;
const plain = (t) => ({ content: [{ type: 'text', text: t }] });
const pause = (ms) => new Promise((r) => setTimeout(r, ms));
const noArgs = { type: 'object', properties: {} };
const stringArgs = (...names) => ({ type: 'object', properties: Object.fromEntries(names.map((n) => [n, { type: 'string' }])),
    required: names });

// ---- the state the lists and the watched resource share across sessions -----------------------

const state = {
    watched: 1,                 // the watched resource's version; test_touch_watched bumps it
    dynamic: false,             // test_dynamic_tool was called: the dynamic resource and prompt exist
    triggeredTool: false,       // test_trigger_tool_change flips it: test_triggered_tool is listed
    triggeredPrompt: false,     // test_trigger_prompt_change flips it: test_triggered_prompt is listed
    subscribers: new Map(),     // server -> Set of uris it subscribed to
};

// announce(servers, fn): fn(server) for every live server, ignoring those whose client is gone.
const announce = async (servers, fn) => {
    for (const s of servers) await fn(s).catch(() => {});
};

// ---- tools -------------------------------------------------------------------------------------

const askElicitation = (extra, message, properties, required) => extra.sendRequest({ method: 'elicitation/create',
    params: { message, requestedSchema: { type: 'object', properties, ...(required ? { required } : {}) } } },
ElicitResultSchema);
const elicited = (r) => plain(`Elicitation completed: action=${r.action}, content=${JSON.stringify(r.content ?? {})}`);

// The questions of the input-required contract, as a 2025-era server asks them (the answer
// comes back as the request's result).
const askName = (extra, message) => askElicitation(extra, message, { name: { type: 'string' } }, ['name']);
const askConfirm = (extra) => askElicitation(extra, 'Please confirm', { ok: { type: 'boolean' } }, ['ok']);
const askModel = (extra, text, maxTokens) => extra.sendRequest({ method: 'sampling/createMessage', params: {
    messages: [{ role: 'user', content: { type: 'text', text } }], maxTokens } }, CreateMessageResultSchema);
const askRoots = (extra) => extra.sendRequest({ method: 'roots/list' }, ListRootsResultSchema);
const accepted = (r, field) => (r.action === 'accept' ? String(r.content?.[field]) : `(${r.action})`);
const rootsOf = (r) => r.roots.map((x) => x.uri).join(', ');
const greet = async (req, extra) => plain(`Hello, ${accepted(await askName(extra, 'What is your name?'), 'name')}!`);

// flip(key, notify): test_trigger_*_change: the triggered tool or prompt comes or goes, and every
// client hears that the list changed.
const flip = async (key, servers, notify) => {
    state[key] = !state[key];
    await announce(servers, notify);
    return plain(`the list changed: its triggered entry is now ${state[key] ? 'listed' : 'gone'}`);
};

const tools = {
    test_simple_text: () => plain('This is a simple text response for testing.'),
    test_image_content: () => ({ content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] }),
    test_audio_content: () => ({ content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] }),
    test_embedded_resource: () => ({ content: [{ type: 'resource', resource: {
        uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }] }),
    test_multiple_content_types: () => ({ content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: PNG, mimeType: 'image/png' },
        { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json',
            text: '{"test":"data","value":123}' } }] }),
    test_tool_with_logging: async (req, extra) => {
        for (const [i, data] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
            if (i) await pause(50);
            await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
        }
        return plain('Tool with logging executed');
    },
    test_error_handling: () => ({ isError: true, content: [{ type: 'text',
        text: 'This tool intentionally returns an error for testing' }] }),
    test_tool_with_progress: async (req, extra) => {
        const token = req.params._meta?.progressToken;
        for (const [i, progress] of [0, 50, 100].entries()) {
            if (i) await pause(50);
            if (token !== undefined)
                await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total: 100 } });
        }
        return plain('Tool with progress executed');
    },
    test_sampling: async (req, extra) => {
        const r = await extra.sendRequest({ method: 'sampling/createMessage', params: {
            messages: [{ role: 'user', content: { type: 'text', text: String(req.params.arguments?.prompt) } }], maxTokens: 100 } },
        CreateMessageResultSchema);
        return plain(`LLM response: ${r.content.text}`);
    },
    test_elicitation: async (req, extra) => {
        const r = await extra.sendRequest({ method: 'elicitation/create', params: { message: String(req.params.arguments?.message),
            requestedSchema: { type: 'object', properties: {
                username: { type: 'string', description: "User's response" },
                email: { type: 'string', description: "User's email address" } }, required: ['username', 'email'] } } },
        ElicitResultSchema);
        return plain(`User response: action: ${r.action}, content: ${JSON.stringify(r.content ?? {})}`);
    },
    // SEP-1034: a default for every primitive type.
    test_elicitation_sep1034_defaults: async (req, extra) => elicited(await askElicitation(extra,
        'Please review your details; each field has a default', {
            name: { type: 'string', description: 'User name', default: 'John Doe' },
            age: { type: 'integer', description: 'User age', default: 30 },
            score: { type: 'number', description: 'User score', default: 95.5 },
            status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
            verified: { type: 'boolean', description: 'Verification status', default: true },
        })),
    // SEP-1330: the five ways of writing a choice.
    test_elicitation_sep1330_enums: async (req, extra) => elicited(await askElicitation(extra, 'Please choose', {
        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        titledSingle: { type: 'string', oneOf: [{ const: 'value1', title: 'First Option' },
            { const: 'value2', title: 'Second Option' }, { const: 'value3', title: 'Third Option' }] },
        legacyEnum: { type: 'string', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
        untitledMulti: { type: 'array', items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
        titledMulti: { type: 'array', items: { anyOf: [{ const: 'value1', title: 'First Choice' },
            { const: 'value2', title: 'Second Choice' }, { const: 'value3', title: 'Third Choice' }] } },
    })),
    json_schema_2020_12_tool: (req) => plain(`Received ${JSON.stringify(req.params.arguments ?? {})}`),
    // SEP-1699: the server may end a call's SSE stream early; the client resumes it with
    // Last-Event-ID and gets the answer there. The SDK offers closeSSEStream only when the
    // transport keeps events and the client can resume (2025-11-25 and later).
    // The answer says whether the stream was closed, for the gateway's test of resuming.
    test_reconnection: async (req, extra) => {
        if (!extra.closeSSEStream) return plain('Reconnection test completed successfully');
        await pause(50);
        extra.closeSSEStream();
        await pause(200);
        return plain('Reconnection test completed successfully (its stream was closed first)');
    },
    test_dynamic_tool: async (req, extra, servers) => {
        state.dynamic = true;
        await announce(servers, (s) => s.sendResourceListChanged());
        await announce(servers, (s) => s.sendPromptListChanged());
        return plain('Added test://dynamic-resource and test_dynamic_prompt');
    },
    test_touch_watched: async (req, extra, servers) => {
        state.watched++;
        const uri = 'test://watched-resource';
        await announce([...servers].filter((s) => state.subscribers.get(s)?.has(uri)),
            (s) => s.sendResourceUpdated({ uri }));
        return plain(`test://watched-resource is now at version ${state.watched}`);
    },
    // The input-required contract (SEP-2322), asked the 2025 way.
    test_input_required_result_elicitation: greet,
    test_input_required_result_sampling: async (req, extra) =>
        plain(`LLM response: ${(await askModel(extra, 'What is the capital of France?', 100)).content.text}`),
    test_input_required_result_list_roots: async (req, extra) => plain(`Roots: ${rootsOf(await askRoots(extra))}`),
    // The requestState is the asking side's to check: the answer reaches this call only once the
    // state echoed with it was found good.
    test_input_required_result_request_state: async (req, extra) =>
        plain(`state-ok: confirmed ${accepted(await askConfirm(extra), 'ok')}`),
    test_input_required_result_multiple_inputs: async (req, extra) => {
        const [who, greeting, roots] = await Promise.all([askName(extra, 'What is your name?'),
            askModel(extra, 'Generate a greeting', 50), askRoots(extra)]);
        return plain(`${greeting.content.text} ${accepted(who, 'name')} (roots: ${rootsOf(roots)})`);
    },
    test_input_required_result_multi_round: async (req, extra) => {
        const who = accepted(await askName(extra, 'Step 1: What is your name?'), 'name');
        const color = accepted(await askElicitation(extra, 'Step 2: What is your favorite color?',
            { color: { type: 'string' } }, ['color']), 'color');
        return plain(`${who} likes ${color}`);
    },
    test_input_required_result_tampered_state: async (req, extra) =>
        plain(`Confirmed ${accepted(await askConfirm(extra), 'ok')}`),
    // Asks only by sampling: a client that declared sampling alone is never asked to elicit.
    test_input_required_result_capabilities: async (req, extra) =>
        plain(`LLM response: ${(await askModel(extra, 'Say hello', 20)).content.text}`),
    // The stateless era's diagnostics (server-stateless).
    test_missing_capability: async (req, extra) =>
        plain(`LLM response: ${(await askModel(extra, 'This tool needs sampling', 20)).content.text}`),
    test_streaming_elicitation: greet,
    test_logging_tool: async (req, extra) => {
        await extra.sendNotification({ method: 'notifications/message', params: { level: 'info', data: 'test_logging_tool ran' } });
        return plain('Logged one message at level info');
    },
    test_trigger_tool_change: (req, extra, servers) => flip('triggeredTool', servers, (s) => s.sendToolListChanged()),
    test_trigger_prompt_change: (req, extra, servers) => flip('triggeredPrompt', servers, (s) => s.sendPromptListChanged()),
};

const toolSchemas = {
    test_sampling: stringArgs('prompt'),
    test_elicitation: stringArgs('message'),
    json_schema_2020_12_tool: {
        $schema: 'https://json-schema.org/draft/2020-12/schema',
        type: 'object',
        $defs: { address: { type: 'object', properties: { street: { type: 'string' }, city: { type: 'string' } } } },
        properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
        additionalProperties: false,
    },
};

const listedTools = Object.keys(tools).map((name) => ({ name,
    description: name === 'json_schema_2020_12_tool' ? 'Tool with JSON Schema 2020-12 features' : `conformance: ${name}`,
    inputSchema: toolSchemas[name] ?? noArgs }));
const triggeredTool = { name: 'test_triggered_tool', description: 'conformance: listed while test_trigger_tool_change has it',
    inputSchema: noArgs };

// contractTools(): the contract's tools as listed now.
export const contractTools = () => (state.triggeredTool ? [...listedTools, triggeredTool] : listedTools);

// callContractTool(req, extra, servers): the answer of a contract tool, or undefined when the
// name is not one of them.
export const callContractTool = (req, extra, servers) => (req.params.name === triggeredTool.name && state.triggeredTool
    ? plain('The triggered tool ran') : tools[req.params.name]?.(req, extra, servers));

// ---- resources ---------------------------------------------------------------------------------

const staticResources = [
    { uri: 'test://static-text', name: 'static-text', mimeType: 'text/plain',
        read: () => ({ text: 'This is the content of the static text resource.' }) },
    { uri: 'test://static-binary', name: 'static-binary', mimeType: 'image/png', read: () => ({ blob: PNG }) },
    { uri: 'test://watched-resource', name: 'watched-resource', mimeType: 'text/plain',
        read: () => ({ text: `Watched resource, version ${state.watched}` }) },
];
const dynamicResource = { uri: 'test://dynamic-resource', name: 'dynamic-resource', mimeType: 'text/plain',
    read: () => ({ text: 'This resource was added while the server ran.' }) };
const TEMPLATE = /^test:\/\/template\/([^/]+)\/data$/;

const resources = () => (state.dynamic ? [...staticResources, dynamicResource] : staticResources);
const describe = ({ uri, name, mimeType }) => ({ uri, name, description: `conformance: ${name}`, mimeType });

export const listResources = () => ({ resources: resources().map(describe) });
export const listResourceTemplates = () => ({ resourceTemplates: [{ uriTemplate: 'test://template/{id}/data',
    name: 'template-data', description: 'conformance: data for an id', mimeType: 'application/json' }] });

export const readResource = (req) => {
    const { uri } = req.params;
    const found = resources().find((r) => r.uri === uri);
    if (found) return { contents: [{ uri, mimeType: found.mimeType, ...found.read() }] };
    const m = TEMPLATE.exec(uri);
    if (m) return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify({ id: m[1], data: `data for ${m[1]}` }) }] };
    throw new McpError(RESOURCE_NOT_FOUND, `Resource ${uri} not found`, { uri });
};

// subscribe(server, req) / unsubscribe(server, req): what server's client watches.
export const subscribe = (server, req) => {
    if (!resources().some((r) => r.uri === req.params.uri))
        throw new McpError(RESOURCE_NOT_FOUND, `Resource ${req.params.uri} not found`, { uri: req.params.uri });
    if (!state.subscribers.has(server)) state.subscribers.set(server, new Set());
    state.subscribers.get(server).add(req.params.uri);
    return {};
};
export const unsubscribe = (server, req) => {
    state.subscribers.get(server)?.delete(req.params.uri);
    return {};
};
export const forget = (server) => state.subscribers.delete(server);

// ---- prompts -----------------------------------------------------------------------------------

const user = (content) => ({ role: 'user', content });
const prompts = {
    test_simple_prompt: { arguments: [], get: () => [user({ type: 'text', text: 'This is a simple prompt for testing.' })] },
    test_prompt_with_arguments: {
        arguments: [{ name: 'arg1', description: 'First test argument', required: true },
            { name: 'arg2', description: 'Second test argument', required: true }],
        get: (a) => [user({ type: 'text', text: `Prompt with arguments: arg1='${a.arg1}', arg2='${a.arg2}'` })],
    },
    test_prompt_with_embedded_resource: {
        arguments: [{ name: 'resourceUri', description: 'URI of the resource to embed', required: true }],
        get: (a) => [
            user({ type: 'resource', resource: { uri: a.resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } }),
            user({ type: 'text', text: 'Please process the embedded resource above.' })],
    },
    test_prompt_with_image: { arguments: [], get: () => [
        user({ type: 'image', data: PNG, mimeType: 'image/png' }),
        user({ type: 'text', text: 'Please analyze the image above.' })] },
    // The input-required contract on prompts/get: the client is asked for the context first.
    test_input_required_result_prompt: { arguments: [], get: async (a, extra) => {
        const r = await askElicitation(extra, 'What context should the prompt use?', { context: { type: 'string' } }, ['context']);
        return [user({ type: 'text', text: `Answer within this context: ${accepted(r, 'context')}` })];
    } },
};
const dynamicPrompt = { arguments: [], get: () => [user({ type: 'text', text: 'This prompt was added while the server ran.' })] };
const triggeredPrompt = { arguments: [], get: () => [user({ type: 'text', text: 'Listed while test_trigger_prompt_change has it.' })] };
const promptsNow = () => ({ ...prompts, ...(state.dynamic ? { test_dynamic_prompt: dynamicPrompt } : {}),
    ...(state.triggeredPrompt ? { test_triggered_prompt: triggeredPrompt } : {}) });

export const listPrompts = () => ({ prompts: Object.entries(promptsNow()).map(([name, p]) => ({ name,
    description: `conformance: ${name}`, arguments: p.arguments })) });

export const getPrompt = async (req, extra) => {
    const p = promptsNow()[req.params.name];
    if (!p) throw new McpError(ErrorCode.InvalidParams, `Prompt ${req.params.name} not found`);
    const a = req.params.arguments ?? {};
    const missing = p.arguments.filter((x) => x.required && a[x.name] === undefined).map((x) => x.name);
    if (missing.length) throw new McpError(ErrorCode.InvalidParams, `Prompt ${req.params.name} needs ${missing.join(', ')}`);
    return { description: `conformance: ${req.params.name}`, messages: await p.get(a, extra) };
};

// ---- completions -------------------------------------------------------------------------------

const suggestions = {
    'ref/prompt test_prompt_with_arguments arg1': ['paris', 'park', 'party', 'test-one', 'test-two'],
    'ref/prompt test_prompt_with_arguments arg2': ['alpha', 'beta', 'gamma'],
    'ref/resource test://template/{id}/data id': ['1', '2', '3', '123'],
};

export const complete = (req) => {
    const { ref, argument } = req.params;
    const all = suggestions[`${ref.type} ${ref.name ?? ref.uri} ${argument.name}`] ?? [];
    const values = all.filter((v) => v.startsWith(argument.value ?? ''));
    return { completion: { values, total: values.length, hasMore: false } };
};
