"""The PostHog stand-in the tests use; it lives in demo/posthog_standin.py so that
`scripts/run --demo` can run it too. `python -m tests.support.posthog_stub` still starts it."""

from demo.posthog_standin import (  # noqa: F401
    DEFAULT_TEST_ACCOUNT_FILTERS,
    Event,
    PostHogStub,
    ScriptedResponse,
    Trickle,
    dump_events,
    generate_events,
    load_events,
    main,
    week_start,
    weekly_truth,
)

if __name__ == "__main__":
    main()
