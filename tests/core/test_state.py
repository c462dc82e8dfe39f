"""The transition tables: every (state, input) is a legal move or an error
that names both, never anything else (h2's test_state_machines.py idea)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pyetcd_wire._core import state as s
from pyetcd_wire.errors import LocalProtocolError

MACHINES = [
    (s.CONNECTION_TRANSITIONS, s.ConnectionState, s.ConnectionInput),
    (s.STREAM_TRANSITIONS, s.StreamState, s.StreamInput),
    (s.CALL_TRANSITIONS, s.CallState, s.CallInput),
    (s.RESPONSE_TRANSITIONS, s.ResponseState, s.ResponseInput),
]


@pytest.mark.parametrize(("table", "states", "inputs"), MACHINES)
def test_tables_only_name_their_own_enums(table, states, inputs):
    for (state, event), new in table.items():
        assert isinstance(state, states)
        assert isinstance(new, states)
        assert isinstance(event, inputs)


@pytest.mark.parametrize(("table", "states", "inputs"), MACHINES)
@given(data=st.data())
def test_every_pair_is_a_move_or_an_error(table, states, inputs, data):
    state = data.draw(st.sampled_from(list(states)))
    for event in data.draw(st.lists(st.sampled_from(list(inputs)), max_size=20)):
        if (state, event) not in table:
            with pytest.raises(LocalProtocolError) as info:
                s.transition(table, state, event)
            assert event.value in str(info.value)
            assert state.value in str(info.value)
            return
        state = s.transition(table, state, event)
        assert isinstance(state, states)


def test_closed_is_terminal():
    for table, states, inputs in MACHINES:
        terminal = [st_ for st_ in states if st_.name in ("CLOSED", "DONE")]
        for state in terminal:
            for event in inputs:
                if (state, event) in table:
                    assert table[state, event] is state
