// The official openai Node SDK against the gateway, with the SDK's defaults.
//
//   OPENAI_BASE_URL=<gateway>/v1 OPENAI_API_KEY=<key> node sdk_check.mjs <chat alias> <embedding alias>
//
// Prints one JSON object: what a Node client got (a chat answer, a streamed answer with its
// usage chunk, and the same embedding with the SDK's default encoding and with "float").
// gateway/smoke/checks/node_sdk.py judges it; this script only reports.
import OpenAI from "openai";

const [chatAlias, embeddingAlias] = process.argv.slice(2);
const client = new OpenAI({ maxRetries: 0, timeout: 60_000 });
const nonce = Math.random().toString(36).slice(2, 10);
const report = { sdk: "openai-node" };

try {
  const reply = await client.chat.completions.create({
    model: chatAlias,
    messages: [{ role: "user", content: `Say hello from Node (${nonce})` }],
    max_tokens: 32,
  });
  report.chat = { text: reply.choices[0]?.message?.content ?? "", model: reply.model };

  const stream = await client.chat.completions.create({
    model: chatAlias,
    messages: [{ role: "user", content: `Stream hello from Node (${nonce})` }],
    max_tokens: 32,
    stream: true,
    stream_options: { include_usage: true },
  });
  const pieces = [];
  let usageChoices = null;
  let usage = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) pieces.push(choice.delta?.content ?? "");
    if (chunk.usage) {
      usage = chunk.usage;
      usageChoices = chunk.choices;
    }
  }
  report.stream = { text: pieces.join(""), usage, usageChoices };

  if (embeddingAlias) {
    const text = `the gateway embeds text ${nonce}`;
    const byDefault = await client.embeddings.create({ model: embeddingAlias, input: text });
    const asFloat = await client.embeddings.create({ model: embeddingAlias, input: text, encoding_format: "float" });
    report.embedding = { text, default: byDefault.data[0].embedding, float: asFloat.data[0].embedding };
  }
} catch (error) {
  report.error = `${error?.status ?? ""} ${error?.message ?? error}`.trim();
}
process.stdout.write(JSON.stringify(report));
