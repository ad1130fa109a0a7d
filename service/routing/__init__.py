"""Road travel times from files and servers: the embedded graph, OSRM and Valhalla.

Each implements `dispatch.roads.RoadTimes`; `CORESPOND_ROUTING` chooses one. It may
import `dispatch`, `models` and the shared top level (settings, errors, logs,
metrics), nothing else of `service`: the dispatching feature asks it, before its
write transaction begins.
"""
