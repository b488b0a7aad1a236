// main.ts: the yargs command table. Commands parse options and pick a reporter; no logic here.
import yargs from "yargs";
import { detectCommand } from "./detect.js";
import { evalCommand, evalDescription, evalOptions } from "./eval.js";
import { infoCommand } from "./info.js";
import { pretrainCommand, pretrainDescription, pretrainOptions } from "./pretrain.js";
import { prepareCommand, prepareDescription, prepareOptions } from "./prepare.js";
import { tokenizeCommand, tokenizeDescription, tokenizeOptions } from "./tokenize.js";
import { vocabCommand, vocabDescription, vocabOptions } from "./vocab.js";

class UsageError extends Error {}

export async function run(argv: string[]): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName("electra")
    .usage("$0 <command> [options]\n\nPre-train and evaluate ELECTRA language models.")
    .command(
      "info",
      "Show the version and how the native engine was built (instruction set, threads, CUDA)",
      (y) => y.option("json", { type: "boolean", default: false, describe: "print one JSON object" }),
      (a) => {
        code = infoCommand({ json: a.json });
      },
    )
    .command(
      "detect",
      "Run a discriminator on token ids: per token, the probability that it was replaced",
      (y) =>
        y
          .option("model", { type: "string", demandOption: true, describe: "model directory in Hugging Face's layout (config.json + model.safetensors)" })
          .option("text", { type: "string", describe: "text to tokenize with the model's vocab.txt ([CLS] and [SEP] are added)" })
          .option("ids", { type: "string", describe: "token ids, e.g. \"101 1996 4937 102\"" })
          .option("type-ids", { type: "string", describe: "segment ids (default: 0 through the first [SEP], 1 after it)" })
          .option("json", { type: "boolean", default: false, describe: "print {ids, logits, probs} as one JSON object" })
          .example("$0 detect --model run/checkpoint-1000/discriminator --text \"the chef cooked the meal\"", "")
          .example("$0 detect --model run/checkpoint-1000/discriminator --ids \"101 1996 4937 2938 102\" --json", ""),
      async (a) => {
        code = await detectCommand({ model: a.model, ids: a.ids, text: a.text, typeIds: a.typeIds as string | undefined, json: a.json });
      },
    )
    .command("tokenize", tokenizeDescription, tokenizeOptions, async (a) => {
      code = await tokenizeCommand(a);
    })
    .command("vocab", vocabDescription, vocabOptions, async (a) => {
      code = await vocabCommand(a);
    })
    .command("prepare [inputs..]", prepareDescription, prepareOptions, async (a) => {
      code = await prepareCommand(a);
    })
    .command("pretrain", pretrainDescription, pretrainOptions, async (a) => {
      code = await pretrainCommand(a);
    })
    .command("eval", evalDescription, evalOptions, async (a) => {
      code = await evalCommand(a);
    })
    .demandCommand(1, "Name a command; `electra --help` lists them.")
    .strict()
    .help()
    .version(false)
    .fail((msg, err) => {
      // Throw, so that no command handler runs after a usage error.
      throw err ?? new UsageError(msg);
    });
  try {
    await parser.parseAsync();
  } catch (e) {
    const hint = e instanceof UsageError ? "\nRun `electra --help` for usage." : "";
    process.stderr.write(`electra: ${(e as Error).message}${hint}\n`);
    return 1;
  }
  return code;
}
