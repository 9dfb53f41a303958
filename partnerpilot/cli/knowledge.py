"""`partnerpilot knowledge index | search | eval`: the playbook knowledge base."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from partnerpilot.cli.common import console, fail, print_json

knowledge_app = typer.Typer(help="Index, search and evaluate the playbook knowledge base.", no_args_is_help=True)


@knowledge_app.command("index")
def index_cmd(
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the collection and embed everything again."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Index the playbooks; unchanged chunks are kept, edited ones re-embedded, deleted ones removed."""
    from knowledge.catalog import CatalogError
    from knowledge.index import build_index

    try:
        report = build_index(rebuild=rebuild)
    except CatalogError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(report)
        return
    console.print(
        f"{report.playbooks} playbooks, {report.chunks} chunks: {report.added} added, {report.updated} updated, "
        f"{report.removed} removed, {report.unchanged} unchanged in {report.seconds:.1f} s"
    )


@knowledge_app.command("search")
def search_cmd(
    query: str = typer.Argument(..., help="What to look for."),
    gap: list[str] = typer.Option([], "--gap", help="Only playbooks for this gap (repeatable)."),
    phase: str | None = typer.Option(None, "--phase", help="30, 60, 90 or any."),
    partner_type: str | None = typer.Option(None, "--partner-type", help="reseller, si, isv, msp or referral."),
    audience: str = typer.Option("partner", "--audience", help="partner (never sees PAM guides) or pam."),
    k: int = typer.Option(5, "--k", min=1, max=50, help="How many playbooks."),
    all_chunks: bool = typer.Option(False, "--chunks", help="Top chunks instead of distinct playbooks."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Search the playbooks (one best excerpt per playbook)."""
    from knowledge.retriever import KnowledgeBase

    if audience not in ("partner", "pam"):
        fail("--audience must be partner or pam", 2)
    try:
        hits = KnowledgeBase().search(
            query,
            k=k,
            gaps=gap or None,
            phase=phase,
            partner_type=partner_type,
            audience=audience,  # type: ignore[arg-type]
            distinct=not all_chunks,
        )
    except ValueError as exc:
        fail(str(exc), 2)
    if as_json:
        print_json(hits)
        return
    table = Table("#", "score", "anchor", "section", "excerpt", title=f"{len(hits)} hits for {query!r}")
    for rank, h in enumerate(hits, 1):
        excerpt = " ".join(h.text.split())[:120]
        table.add_row(str(rank), f"{h.score:.4f}", h.anchor, h.heading_path or h.title, excerpt)
    console.print(table)


@knowledge_app.command("eval")
def eval_cmd(
    queries: Path | None = typer.Option(None, "--queries", help="YAML of {query, expected, audience?} items."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    show_misses: bool = typer.Option(False, "--misses", help="Also list queries that missed an expected playbook."),
    gate: bool = typer.Option(False, "--gate", help="Exit 1 when a target (recall@5, MRR, p95) is missed."),
) -> None:
    """Run the labelled retrieval queries: recall@5, MRR, nDCG@10, latency."""
    from knowledge.evaluate import TARGETS, evaluate, load_queries
    from knowledge.retriever import KnowledgeBase

    try:
        items = load_queries(queries)
    except (OSError, ValueError) as exc:
        fail(f"cannot read queries: {exc}", 2)
    report = evaluate(KnowledgeBase(), items)
    summary = report.model_dump(exclude={"misses"})
    if as_json:
        print_json({**summary, "misses": [m.model_dump() for m in report.misses]} if show_misses else summary)
    else:
        print_json(summary)
    if show_misses:
        for m in report.misses:
            console.print(f"[yellow]miss[/yellow] {m.query!r}: expected {m.expected}, got {m.got}")
    _gate(summary, TARGETS, gate)


@knowledge_app.command("baselines")
def baselines_cmd(
    queries: list[Path] = typer.Option(None, "--queries", help="Labelled sets (repeatable); default both sets."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """BM25 only, dense only and the hybrid side by side on the tuning set and the held-out set."""
    from knowledge.evaluate import DEFAULT_QUERIES, HELDOUT_QUERIES, load_queries
    from knowledge.retriever import KnowledgeBase
    from knowledge.tuning import baselines

    paths = queries or [DEFAULT_QUERIES, HELDOUT_QUERIES]
    try:
        sets = {p.stem: load_queries(p) for p in paths}
    except (OSError, ValueError) as exc:
        fail(f"cannot read queries: {exc}", 2)
    rows = baselines(KnowledgeBase(), sets)
    if as_json:
        print_json(rows)
        return
    table = Table("set", "retrieval", "queries", "recall@5", "MRR", "nDCG@10", title="retrieval baselines")
    for r in rows:
        table.add_row(r["set"], r["mode"], str(r["queries"]), f"{r['recall_at_5']:.3f}", f"{r['mrr']:.3f}",
                      f"{r['ndcg_at_10']:.3f}")
    console.print(table)


@knowledge_app.command("tune")
def tune_cmd(
    folds: int = typer.Option(5, "--folds", min=2, help="Cross-validation folds over the tuning queries."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Choose the ranking weights by cross-validation on the tuning set only (never the held-out set)."""
    from knowledge.evaluate import DEFAULT_QUERIES, load_queries
    from knowledge.retriever import KnowledgeBase
    from knowledge.tuning import cross_validate

    report = cross_validate(KnowledgeBase(), load_queries(DEFAULT_QUERIES), folds=folds)
    if as_json:
        print_json(report)
        return
    console.print(f"{report.configurations} configurations, {report.queries} tuning queries, {report.folds} folds")
    console.print(f"chosen on all tuning queries (set these as RetrievalConfig defaults): {report.chosen}")
    console.print(f"in sample: {report.in_sample}")
    console.print(f"cross-validated (each fold scored by the configuration chosen without it): "
                  f"{report.cross_validated}")
    for f in report.per_fold:
        console.print(f"  fold {f.fold} ({f.queries} queries): recall@5 {f.recall_at_5}, MRR {f.mrr}, {f.chosen}")


def _gate(summary: dict[str, float], targets: dict[str, float], enabled: bool) -> None:
    if not enabled:
        return
    missed = [f"{k}={summary[k]} (target {'<=' if k.endswith('_ms') else '>='} {v})" for k, v in targets.items()
              if (summary[k] > v if k.endswith("_ms") else summary[k] < v)]
    if missed:
        fail("retrieval gate failed: " + ", ".join(missed), 1)


def register(app: typer.Typer) -> None:
    app.add_typer(knowledge_app, name="knowledge")
