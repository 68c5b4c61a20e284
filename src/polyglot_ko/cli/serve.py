"""`polyglot-ko serve`: an OpenAI-compatible HTTP API (completions, chat) with continuous batching.

    polyglot-ko serve --model EleutherAI/polyglot-ko-1.3b [--host 127.0.0.1] [--port 8000] [--api-key KEY]

Ctrl-C lets in-flight requests finish (--shutdown-timeout) and then stops.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from ._args import Flag, add_parameters, set_threads
from .generate import add_model_options, generator_from_args


def server_options(
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int | None = None,
    log_level: Literal["debug", "info", "warning", "error"] = "info",
) -> None:
    """The HTTP server's own options.

    Args:
        host: address to bind (127.0.0.1: this machine only; 0.0.0.0 exposes it)
        port: TCP port
        threads: torch CPU threads (default: torch's choice)
        log_level: uvicorn's log level
    """


def add_arguments(parser) -> None:
    from ..serve import ServerLimits, create_app

    add_model_options(parser, "--max-batch-size", "sequences decoded together per step")
    add_parameters(parser, server_options, only=["host", "port"])
    add_parameters(
        parser,
        create_app,
        only=["api_key", "model_name", "shutdown_timeout"],
        defaults={"model_name": None},
        flags={
            "api_key": Flag(
                type=str | None, help="require `Authorization: Bearer KEY` (also read from $POLYGLOT_KO_API_KEY)"
            ),
            "model_name": Flag(
                names=("--served-model-name",),
                type=str | None,
                help="model id clients use (default: the model folder's name)",
            ),
            "shutdown_timeout": Flag(
                help="seconds in-flight requests get to finish on Ctrl-C before they are cancelled"
            ),
        },
    )
    add_parameters(
        parser,
        ServerLimits,
        only=["max_queue", "max_prompt_tokens", "max_tokens"],
        defaults={"max_prompt_tokens": None},
        flags={
            "max_queue": Flag(help="sequences queued or running (429 beyond)"),
            "max_prompt_tokens": Flag(type=int | None, help="longest prompt (default: the model's context - 1)"),
            "max_tokens": Flag(names=("--max-tokens-limit",), help="largest max_tokens a request may ask for"),
        },
    )
    add_parameters(
        parser,
        server_options,
        only=["threads", "log_level"],
        flags={"log_level": Flag(choices=("debug", "info", "warning", "error"))},
    )


def run(args: dict) -> int:
    import uvicorn

    from ..serve import ServerLimits, create_app

    set_threads(args["threads"])
    api_key = args["api_key"] or os.environ.get("POLYGLOT_KO_API_KEY") or None
    host, port = args["host"], args["port"]
    if host not in ("127.0.0.1", "localhost", "::1") and api_key is None:
        print(
            f"warning: binding {host} without --api-key: anyone who can reach this port can use the model",
            file=sys.stderr,
        )
    gen = generator_from_args(args)
    name = args["model_name"] or Path(str(args["path_or_hub_id"]).rstrip("/")).name
    limits = ServerLimits(
        max_prompt_tokens=args["max_prompt_tokens"] or gen.max_context - 1,
        max_tokens=args["max_tokens"],
        max_queue=args["max_queue"],
    )
    app = create_app(gen, model_name=name, api_key=api_key, limits=limits, shutdown_timeout=args["shutdown_timeout"])
    print(
        f"serving {name} ({gen!r}) on http://{host}:{port}/v1 "
        f"(batch {args['max_batch_size']}, queue {args['max_queue']}); Ctrl-C stops after in-flight requests "
        f"finish",
        flush=True,
    )
    # Connections beyond limit_concurrency get a 503 instead of piling up; idle keep-alive ones close after 5 s.
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=args["log_level"],
        timeout_graceful_shutdown=args["shutdown_timeout"],
        timeout_keep_alive=5,
        limit_concurrency=max(64, 4 * args["max_queue"]),
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl-C it handled; by now in-flight requests have finished: a clean stop.
        pass
    worker = getattr(app.state, "worker", None)
    if worker is not None:
        s = worker.stats()
        print(
            f"stopped: {s['tokens_generated']:,} tokens generated in {s['steps']:,} decode steps "
            f"(largest batch {s['peak_batch']})",
            flush=True,
        )
    return 0
