/* SPDX-License-Identifier: MIT */
/*
 * The sink component classes of the babeltrace2 plugin `pytrace` (plugin.c registers them):
 *   sink.pytrace.stack    sink-stack.c    per-thread indented call stack (pytrace view)
 *   sink.pytrace.chrome   sink-chrome.c   Chrome trace-event JSON; format=zipkin|otlp too
 *   sink.pytrace.profile  sink-profile.c  cProfile-like table; folded stacks; SVG flame graph
 * Each reads its input port "in" with a message iterator and feeds a pt_decoder (decode.h).
 */
#ifndef PYTRACE_BT_SINKS_H
#define PYTRACE_BT_SINKS_H

#include <babeltrace2/babeltrace.h>

#define PT_SINK_METHODS(NAME)                                                                  \
	bt_component_class_initialize_method_status pt_##NAME##_init(                          \
		bt_self_component_sink *self, bt_self_component_sink_configuration *config,     \
		const bt_value *params, void *init_data);                                       \
	void pt_##NAME##_finalize(bt_self_component_sink *self);                               \
	bt_component_class_sink_graph_is_configured_method_status pt_##NAME##_configured(      \
		bt_self_component_sink *self);                                                  \
	bt_component_class_sink_consume_method_status pt_##NAME##_consume(                     \
		bt_self_component_sink *self)

PT_SINK_METHODS(stack);
PT_SINK_METHODS(chrome);
PT_SINK_METHODS(profile);

#endif /* PYTRACE_BT_SINKS_H */
