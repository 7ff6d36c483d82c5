/* SPDX-License-Identifier: MIT */
/*
 * The babeltrace2 plugin `pytrace`: sinks that turn a libpytrace trace into what people look at
 * (sinks.h). `babeltrace2 --plugin-path=DIR -c sink.pytrace.stack TRACE`, or the `pytrace`
 * command (tools/pytrace).
 */
#include <babeltrace2/babeltrace.h>

#include "sinks.h"

BT_PLUGIN_MODULE();

BT_PLUGIN(pytrace);
BT_PLUGIN_DESCRIPTION("libpytrace's views of Python traces: call stacks, Chrome/Perfetto, "
		      "Zipkin and OTLP JSON, profiles");
BT_PLUGIN_AUTHOR("libpytrace");
BT_PLUGIN_LICENSE("MIT");

#define PT_SINK(NAME, DESCRIPTION, HELP)                                                       \
	BT_PLUGIN_SINK_COMPONENT_CLASS(NAME, pt_##NAME##_consume);                             \
	BT_PLUGIN_SINK_COMPONENT_CLASS_DESCRIPTION(NAME, DESCRIPTION);                         \
	BT_PLUGIN_SINK_COMPONENT_CLASS_HELP(NAME, HELP);                                       \
	BT_PLUGIN_SINK_COMPONENT_CLASS_INITIALIZE_METHOD(NAME, pt_##NAME##_init);              \
	BT_PLUGIN_SINK_COMPONENT_CLASS_FINALIZE_METHOD(NAME, pt_##NAME##_finalize);            \
	BT_PLUGIN_SINK_COMPONENT_CLASS_GRAPH_IS_CONFIGURED_METHOD(NAME, pt_##NAME##_configured)

PT_SINK(stack, "Per-thread indented call stack of a libpytrace trace",
	"See docs/tools.md of libpytrace.");
#ifdef PT_HAVE_CHROME
PT_SINK(chrome, "Chrome trace-event JSON (Perfetto), Zipkin v2 or OTLP/JSON of a libpytrace trace",
	"See docs/tools.md of libpytrace.");
#endif
#ifdef PT_HAVE_PROFILE
PT_SINK(profile, "cProfile-like table, folded stacks or SVG flame graph of a libpytrace trace",
	"See docs/tools.md of libpytrace.");
#endif
