"""The module `slate build` componentizes in place of `app`: the app's own
exports, and the `season` export of contract 0.1.2, answered from the
declaration of the app's `Processor` (`slate_sdk.season_of`) unless the app
defines a `Season` of its own. An app never imports it."""

import app as _app
import slate_sdk as _slate_sdk
from app import *  # noqa: F401,F403 - the app's `Processor` is the export

Season = getattr(_app, "Season", None) or _slate_sdk.season_of(_app.Processor)
