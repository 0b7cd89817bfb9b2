// msb image inspect <ref>: config and layers of a stored image.
import { defineCommand } from "citty";
import { colors } from "consola/utils";
import { inspectImage } from "../image/catalog.ts";
import { openStore } from "../store/store.ts";
import { formatSize, formatTimestamp, renderFields, renderTable, shortDigest } from "../ui/format.ts";
import { print, printJson } from "../ui/output.ts";
import { formatArgs } from "./_shared.ts";

export default defineCommand({
  meta: { name: "inspect", description: "Show an image's config and layers" },
  args: {
    reference: { type: "positional", required: true, description: "Image reference or digest" },
    ...formatArgs,
  },
  run({ args }) {
    const store = openStore();
    try {
      const image = inspectImage(store, args.reference);
      if (args.format === "json") {
        printJson({
          reference: image.reference,
          digest: image.digest,
          index_digest: image.indexDigest,
          architecture: image.architecture,
          os: image.os,
          variant: image.variant,
          size_bytes: image.sizeBytes,
          rootfs_bytes: image.rootfsBytes,
          created_at: image.createdAt,
          pulled_at: image.pulledAt,
          config: {
            entrypoint: image.config.entrypoint,
            cmd: image.config.cmd,
            env: image.config.env,
            working_dir: image.config.workingDir,
            user: image.config.user,
            exposed_ports: image.config.exposedPorts,
            volumes: image.config.volumes,
            labels: image.config.labels,
          },
          layers: image.layers.map((layer) => ({
            digest: layer.digest,
            size_bytes: layer.sizeBytes,
            media_type: layer.mediaType,
          })),
        });
        return;
      }
      const platform = image.variant ? `${image.architecture}/${image.variant}` : image.architecture;
      const list = (values: string[] | null) => (values && values.length > 0 ? JSON.stringify(values) : "-");
      const sections = [
        renderFields([
          ["Reference", image.reference],
          ["Digest", image.digest],
          ["Architecture", platform],
          ["OS", image.os],
          ["Size", formatSize(image.sizeBytes)],
          ["Created", formatTimestamp(image.createdAt)],
        ]),
        colors.bold("Config"),
        renderFields(
          [
            ["Entrypoint", list(image.config.entrypoint)],
            ["Cmd", list(image.config.cmd)],
            ["WorkingDir", image.config.workingDir ?? "-"],
            ["User", image.config.user ?? "-"],
            ["Env", image.config.env.length > 0 ? "" : "-"],
          ],
          "  ",
        ),
        ...image.config.env.map((entry) => `    ${entry}`),
        colors.bold(`Layers (${image.layers.length})`),
        renderTable(
          ["#", "DIGEST", "SIZE", "MEDIA TYPE"],
          image.layers.map((layer, index) => [
            String(index + 1),
            shortDigest(layer.digest),
            formatSize(layer.sizeBytes),
            layer.mediaType,
          ]),
        ),
      ];
      print(sections.join("\n"));
    } finally {
      store.close();
    }
  },
});
