#!/usr/bin/env python3
"""Pre-annotate a dataset's exported pages on Spark, through apflow.

Reads the pages of argilla/in/<dataset>/ through the export's manifest,
pipes them as JSON lines through `apflow preannotate --stdin-jsonl` on the
executors (RDD.pipe), and writes the suggestions as Parquet under
argilla/in/<dataset>/suggestions/<agent>/, with the pages processed under
suggestions/<agent>/_pages/, as sql/motherduck/PREANNOTATION_SCHEMA.md says.
Then `apflow merge --dataset <dataset>` takes them in.

    spark-submit examples/spark/preannotate.py \
        --root s3a://my-bucket/lake --dataset vessels_ocr_batch1 \
        --engine ollama --model llama3.3:70b --ollama-url http://gpu-1:11434

apflow must be installed on every executor (--apflow names it; default:
apflow on the PATH).  See docs/spark.md.
"""
import argparse
import json
import re
import shlex

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

PAGES_SCHEMA = T.StructType([
    T.StructField("page_num", T.IntegerType()),
    T.StructField("text", T.StringType()),
    T.StructField("text_sha256", T.StringType()),
    T.StructField("filename", T.StringType()),
    T.StructField("chars", T.IntegerType()),
    T.StructField("engine", T.StringType()),
    T.StructField("doc_id", T.StringType()),  # from the path: doc_id=<doc_id>/
])

# The suggestion rows apflow writes, in its order (PREANNOTATION_SCHEMA.md).
SUGGESTION_SCHEMA = T.StructType([
    T.StructField("doc_id", T.StringType()),
    T.StructField("page_num", T.IntegerType()),
    T.StructField("text_sha256", T.StringType()),
    T.StructField("question_name", T.StringType()),
    T.StructField("label", T.StringType()),
    T.StructField("start", T.IntegerType()),
    T.StructField("end", T.IntegerType()),
    T.StructField("span_text", T.StringType()),
    T.StructField("score", T.DoubleType()),
    T.StructField("agent", T.StringType()),
    T.StructField("type", T.StringType()),
    T.StructField("labelset_version", T.StringType()),
    T.StructField("created_at", T.StringType()),
])


def agent_name(engine, model):
    """The agent as apflow names it (include/apflow/ollama.h)."""
    if engine == "rules":
        return "apflow-rules-v1"
    return ("ollama-" + re.sub(r"[^a-z0-9._-]", "-", model.lower()))[:200]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", required=True, help="the store root as Spark reads it (s3a://bucket/prefix, file:///data/lake)")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--engine", default="rules", choices=["rules", "ollama"])
    ap.add_argument("--model", default="llama3.3:70b", help="ollama: the model")
    ap.add_argument("--ollama-url", help="ollama: the server every executor asks")
    ap.add_argument("--apflow", default="apflow", help="the apflow binary on the executors")
    ap.add_argument("--partitions", type=int, default=0, help="pages are piped in this many partitions (0: Spark's choice)")
    ap.add_argument("--no-cache", action="store_true", help="ollama: no answer cache on the executors")
    args = ap.parse_args()

    spark = SparkSession.builder.appName(f"apflow-preannotate-{args.dataset}").getOrCreate()
    base = f"{args.root.rstrip('/')}/argilla/in/{args.dataset}"
    pages_dir = f"{base}/pages"

    # The manifest names the current export's files: a re-export running
    # meanwhile never mixes into what we read.
    manifest = json.loads(spark.read.text(f"{pages_dir}/_manifest.json", wholetext=True).first()[0])
    files = [f"{pages_dir}/{f}" for f in manifest["files"]]
    pages = (spark.read.schema(PAGES_SCHEMA).option("basePath", pages_dir).parquet(*files)
             .select("doc_id", "page_num", "text", "text_sha256"))
    if args.partitions > 0:
        pages = pages.repartition(args.partitions)
    pages = pages.cache()

    cmd = [args.apflow, "preannotate", "--stdin-jsonl", "--engine", args.engine]
    if args.engine == "ollama":
        cmd += ["--model", args.model]
        if args.ollama_url:
            cmd += ["--ollama-url", args.ollama_url]
        if args.no_cache:
            cmd += ["--no-cache"]
    # One JSON object per line in, one per span out.  apflow exits non-zero
    # on a bad line or a failed page, which fails the task (and the job):
    # nothing below is written then.
    # Cached: the write, the page counts and the summary below must not
    # run the model a second time.
    rows = pages.toJSON().pipe(" ".join(shlex.quote(c) for c in cmd)).cache()
    spans = (spark.read.schema(SUGGESTION_SCHEMA).json(rows)
             .withColumn("created_at", F.to_timestamp("created_at")))

    agent = agent_name(args.engine, args.model)
    out = f"{base}/suggestions/{agent}"
    # overwrite: this agent's output replaces its earlier output, whole.
    spans.write.mode("overwrite").parquet(out)
    counts = spans.groupBy("doc_id", "page_num").agg(F.count(F.lit(1)).cast("int").alias("spans"))
    processed = (pages.join(counts, ["doc_id", "page_num"], "left")
                 .select("doc_id", "page_num", "text_sha256", F.lit(agent).alias("agent"),
                         F.coalesce("spans", F.lit(0)).alias("spans"),
                         F.current_timestamp().alias("created_at")))
    processed.write.mode("overwrite").parquet(f"{out}/_pages")
    print(f"preannotate {args.dataset}: {agent}: {pages.count()} pages, {spans.count()} spans under {out}")
    spark.stop()


if __name__ == "__main__":
    main()
