// read_json.mjs: the JSON body of an HTTP request, for the MCP fixtures (undefined when not JSON).
export const readJson = (req) => new Promise((resolve) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { try { resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))); } catch { resolve(undefined); } });
});
