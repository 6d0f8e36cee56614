"""A seed ensemble as one ONNX graph: several members side by side, their rates averaged.

Members are graphs of one model kind with the same inputs and outputs (the whole-trace,
windowed or streaming graph of networks trained alike). The averaged graph keeps that
interface, so the runtime and hosts in other languages run it as they run one member:

- inputs every member reads (``dff``, ``position``) stay shared;
- each member's internal tensors, initializers and node names get a prefix ``m<k>.``;
- a streaming graph's states are per member: they are numbered on across members
  (``state_0`` … of member 0, then member 1's), each with its ``state_<i>_out``;
- ``spike_rate`` is the ``Mean`` of the members' rates; any other output (a stream's
  ``position_out``, the same for every member) is member 0's.
"""

from __future__ import annotations

import onnx
from onnx import helper
from ens2rt.engine.stateful import OUT_SUFFIX, RATE_OUTPUT, STATE_PREFIX


def average_graphs(members: list[onnx.GraphProto], name: str) -> onnx.GraphProto:
    """One graph whose ``spike_rate`` is the mean of the ``members``' (see the module docstring)."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    interface = _interface(members[0])
    for k, member in enumerate(members[1:], start=1):
        if _interface(member) != interface:
            raise ValueError(f"member {k} has other inputs or outputs than member 0: only graphs of one model kind average")
    shared = {i.name for i in members[0].input if not i.name.startswith(STATE_PREFIX)}
    nodes, initializers, inputs, outputs, rates = [], [], [], [], []
    inputs += [i for i in members[0].input if i.name in shared]
    n_states = 0
    for k, member in enumerate(members):
        names = {i.name: i.name for i in member.input if i.name in shared}
        for state in (i for i in member.input if i.name.startswith(STATE_PREFIX)):  # renumbered, in their order
            names[state.name] = f"{STATE_PREFIX}{n_states}"
            names[state.name + OUT_SUFFIX] = f"{STATE_PREFIX}{n_states}{OUT_SUFFIX}"
            n_states += 1
        names[RATE_OUTPUT] = f"m{k}.{RATE_OUTPUT}"
        kept = {o.name for o in member.output if k == 0 or o.name.startswith(STATE_PREFIX) or o.name == RATE_OUTPUT}
        if k == 0:  # member 0 gives the other outputs under their own names
            names.update({o.name: o.name for o in member.output if o.name != RATE_OUTPUT and not o.name.startswith(STATE_PREFIX)})

        def renamed(tensor: str) -> str:
            return "" if tensor == "" else names.get(tensor, f"m{k}.{tensor}")  # "": an optional input left out

        graph_outputs = {o.name for o in member.output}
        for node in member.node:
            if any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for a in node.attribute):
                raise ValueError(f"node {node.name or node.op_type} has a subgraph: not a graph ens2export builds")
            if node.output and all(o in graph_outputs and o not in kept for o in node.output):
                continue  # an output member 0 already gives (a stream's position_out)
            copy = onnx.NodeProto()
            copy.CopyFrom(node)
            copy.ClearField("input")
            copy.ClearField("output")
            copy.input.extend(renamed(t) for t in node.input)
            copy.output.extend(renamed(t) for t in node.output)
            if node.name:
                copy.name = f"m{k}.{node.name}"
            nodes.append(copy)
        for tensor in member.initializer:
            copy = onnx.TensorProto()
            copy.CopyFrom(tensor)
            copy.name = renamed(tensor.name)
            initializers.append(copy)
        for value in member.input:
            if value.name.startswith(STATE_PREFIX):
                inputs.append(_renamed_value(value, names[value.name]))
        for value in member.output:
            if value.name == RATE_OUTPUT:
                rates.append(names[RATE_OUTPUT])
            elif value.name in kept:
                outputs.append(_renamed_value(value, renamed(value.name)))
    nodes.append(helper.make_node("Mean", rates, [RATE_OUTPUT], name="ensemble_mean"))
    rate = next(o for o in members[0].output if o.name == RATE_OUTPUT)
    ordered_inputs = sorted(inputs, key=lambda v: v.name.startswith(STATE_PREFIX))  # shared first, as in a member (stable sort)
    ordered_outputs = [rate, *sorted(outputs, key=lambda v: _state_number(v.name))]
    return helper.make_graph(nodes, name, ordered_inputs, ordered_outputs, initializers)


def average_models(members: list[onnx.ModelProto], metadata: dict[str, str]) -> onnx.ModelProto:
    """:func:`average_graphs` of the members' graphs as a checked model with ``metadata`` (members share opset and IR)."""
    first = members[0]
    if any(list(m.opset_import) != list(first.opset_import) for m in members):
        raise ValueError("members import different opsets")
    model = helper.make_model(average_graphs([m.graph for m in members], first.graph.name + "_mean"),
                              opset_imports=list(first.opset_import), producer_name=first.producer_name)  # fmt: skip
    model.ir_version = first.ir_version
    helper.set_model_props(model, metadata)
    onnx.checker.check_model(model, full_check=True)
    return model


def _interface(graph: onnx.GraphProto) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(i.name for i in graph.input), tuple(o.name for o in graph.output)


def _renamed_value(value: onnx.ValueInfoProto, name: str) -> onnx.ValueInfoProto:
    copy = onnx.ValueInfoProto()
    copy.CopyFrom(value)
    copy.name = name
    return copy


def _state_number(name: str) -> int:
    """Sort key of a non-rate output: member 0's others (−1), then states by number."""
    if not name.startswith(STATE_PREFIX):
        return -1
    return int(name[len(STATE_PREFIX) :].removesuffix(OUT_SUFFIX))
