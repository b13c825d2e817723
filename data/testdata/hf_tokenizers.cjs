// Encodes and decodes texts with Hugging Face's tokenizer code, reading the
// tokenizer.json (and tokenizer_config.json) of each directory as its tools
// do. data/tokenizer_hfjs_test.go runs it.
//
//   node hf_tokenizers.cjs MODULE_DIR LIBRARY < request.json
//
// LIBRARY is "tokenizers" (the tokenizers library itself, Rust, through its
// Node binding: the code transformers' fast tokenizers run) or
// "@huggingface/tokenizers" (tokenizers.js, its JavaScript port, which
// transformers.js uses); MODULE_DIR is the directory holding the
// node_modules/ it is installed in. The request is {"dirs": [DIR...],
// "texts": [TEXT...]}; the reply {DIR: {"ids": [[ID...]...], "decoded":
// [TEXT...]}}.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { createRequire } = require("node:module");

const [moduleDir, library] = process.argv.slice(2);
const lib = createRequire(path.join(path.resolve(moduleDir), "noop.js"))(library);
const readJSON = (file) => JSON.parse(fs.readFileSync(file, "utf8"));

// open returns the tokenizer of dir as {encode(text) -> ids, decode(ids) -> text}.
function open(dir) {
  const file = path.join(dir, "tokenizer.json");
  if (library === "tokenizers") {
    const tok = lib.Tokenizer.fromFile(file);
    return {
      encode: async (text) => (await tok.encode(text, null, { addSpecialTokens: false })).getIds(),
      decode: (ids) => tok.decode(ids, false),
    };
  }
  const tok = new lib.Tokenizer(readJSON(file), readJSON(path.join(dir, "tokenizer_config.json")));
  return {
    encode: async (text) => Array.from(tok.encode(text, { add_special_tokens: false }).ids, Number),
    decode: async (ids) => tok.decode(ids),
  };
}

(async () => {
  const request = JSON.parse(fs.readFileSync(0, "utf8"));
  const reply = {};
  for (const dir of request.dirs) {
    const tok = open(dir);
    const ids = [];
    const decoded = [];
    for (const text of request.texts) {
      ids.push(await tok.encode(text));
      decoded.push(await tok.decode(ids[ids.length - 1]));
    }
    reply[dir] = { ids, decoded };
  }
  process.stdout.write(JSON.stringify(reply));
})().catch((err) => {
  console.error(err);
  process.exit(1);
});
