"""A stack's life on the local cloud, as CloudFormation lives it.

moto makes a stack's resources one by one and stops at the first that fails: the request
fails, the stack stays CREATE_IN_PROGRESS and what was made stays. A type moto lacks is
skipped, with the stack still CREATE_COMPLETE; a ``KeyError`` inside moto can even come back
as "references undefined resource". A deleted stack may leave resources behind. Here, as on
AWS:

* each resource made gets its CREATE_IN_PROGRESS and CREATE_COMPLETE events, with the tags
  CloudFormation gives it (the stack's, ``aws:cloudformation:*``, then the template's);
* a resource that cannot be made (a type the local cloud lacks, a property missing or wrong)
  is CREATE_FAILED, with a reason naming it and the cause; the stack then rolls back: what was
  made is deleted, newest first, and the stack ends ROLLBACK_COMPLETE (CreateStack itself
  answers OK, as AWS does before it even starts);
* a template that is not well-formed YAML or JSON, or not a mapping, is refused by CreateStack
  and UpdateStack with CloudFormation's ``ValidationError`` ("Template format error: ...")
  (moto answered with an internal server error);
* DeleteStack deletes every resource the stack made, newest first, each with its events
  (``resources.delete``: a role's policies detached first, a key scheduled for deletion).
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import yaml
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import Event, Stack, cloudformation_backends
from moto.cloudformation.parsing import NULL_MODELS, OutputMap, ResourceMap

from . import resources

CREATE_IN_PROGRESS = "CREATE_IN_PROGRESS"
CREATE_COMPLETE = "CREATE_COMPLETE"
CREATE_FAILED = "CREATE_FAILED"
DELETE_IN_PROGRESS = "DELETE_IN_PROGRESS"
DELETE_COMPLETE = "DELETE_COMPLETE"
DELETE_FAILED = "DELETE_FAILED"
ROLLBACK_IN_PROGRESS = "ROLLBACK_IN_PROGRESS"
ROLLBACK_COMPLETE = "ROLLBACK_COMPLETE"


class ResourceFailed(Exception):
    """A resource of the stack could not be made (never a KeyError: moto's lookups that
    swallow those must not swallow this)."""

    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


@dataclass
class Made:
    """One resource a stack made."""

    logical_id: str
    resource_type: str
    resource: Any
    properties: dict[str, Any] = field(default_factory=dict)
    retain: bool = False  # DeletionPolicy: Retain


_lock = threading.Lock()
_made: dict[str, list[Made]] = {}  # stack id -> what it made, in the order it was made


def failure_reason(logical_id: str, resource_type: str, error: BaseException) -> str:
    """CREATE_FAILED's reason: the resource, and what went wrong in words."""
    if isinstance(error, KeyError):
        cause = f"required property or reference {error.args[0]!r} is missing"
    else:
        message = _said(error)
        code = getattr(error, "error_type", "") or getattr(error, "code", "")
        cause = f"{code}: {message}" if isinstance(code, str) and code else message
    return f"{logical_id} ({resource_type}) could not be created: {cause}"


def _said(error: BaseException) -> str:
    """What an error says: moto's ``message``, else its text, else its type."""
    return getattr(error, "message", "") or str(error) or type(error).__name__


def with_tags(resource_json: dict[str, Any], stack_tags: dict[str, str],
              logical_id: str) -> dict[str, Any]:
    """The resource's template entry with the tags CloudFormation gives it (a copy: the
    template itself is left as written, which the update's comparison needs)."""
    properties = resource_json.get("Properties") or {}
    tags = resources.resource_tags(resource_json.get("Type", ""), properties.get("Tags"),
                                   stack_tags, logical_id)
    if tags is None:
        return resource_json
    return {**resource_json, "Properties": {**properties, "Tags": tags}}


# --------------------------------------------------------------------------------------------
# moto_patches.py installs these


def wrap_parse_and_create_resource(original: Callable) -> Callable:
    """``moto.cloudformation.parsing.parse_and_create_resource``: makes one resource of a
    stack, tagged, with its events; a failure becomes :class:`ResourceFailed`."""
    @functools.wraps(original)
    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any],
                                  resources_map: ResourceMap, account_id: str,
                                  region_name: str) -> Any:
        resource_type = resource_json.get("Type", "")
        condition = resource_json.get("Condition")
        if condition and not resources_map.lazy_condition_map[condition]:
            return original(logical_id, resource_json, resources_map, account_id, region_name)
        stack = _stack(account_id, region_name, resources_map.stack_id)
        try:
            tagged = with_tags(resource_json, resources_map.tags, logical_id)
            resource = original(logical_id, tagged, resources_map, account_id, region_name)
            if resource is None and resource_type not in NULL_MODELS:
                raise ValueError(f"the local cloud cannot make {resource_type} resources")
        except ResourceFailed:
            raise  # a resource this one needs failed: that one is named
        except Exception as error:
            reason = failure_reason(logical_id, resource_type, error)
            _event(stack, logical_id, resource_type, "", CREATE_IN_PROGRESS)
            _event(stack, logical_id, resource_type, "", CREATE_FAILED, reason)
            raise ResourceFailed(logical_id, reason) from error
        if resource is None:
            return None
        physical_id = str(getattr(resource, "physical_resource_id", "") or "")
        _event(stack, logical_id, resource_type, physical_id, CREATE_IN_PROGRESS)
        _event(stack, logical_id, resource_type, physical_id, CREATE_COMPLETE)
        made = Made(logical_id, resource_type, resource, dict(tagged.get("Properties") or {}),
                    retain=resource_json.get("DeletionPolicy") == "Retain")
        with _lock:
            _made.setdefault(resources_map.stack_id, []).append(made)
        return resource

    return parse_and_create_resource


class _AnyTagLoader(yaml.SafeLoader):
    """Reads YAML with CloudFormation's short forms (``!Ref``, ``!Sub``, ...) as plain values:
    only to find where a template stops being YAML."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def template_format_error(text: str) -> str:
    """CloudFormation's message for a template it cannot read, saying where when YAML can."""
    where = ""
    try:
        yaml.load(text, Loader=_AnyTagLoader)  # noqa: S506 - a safe loader, tags ignored
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
    except yaml.YAMLError:
        pass
    return f"Template format error: YAML not well-formed.{where}"


def wrap_parse_template(original: Callable) -> Callable:
    """``Stack._parse_template``: a template that cannot be read is CloudFormation's
    ValidationError, not an internal error."""

    @functools.wraps(original)
    def _parse_template(self: Stack) -> None:
        try:
            original(self)
        except (ValueError, yaml.YAMLError):  # moto reads YAML, then JSON: both failed
            raise ValidationError(message=template_format_error(self.template)) from None
        if not isinstance(self.template_dict, dict):
            raise ValidationError(message="Template format error: unsupported structure.")

    return _parse_template


def wrap_create_resources(original: Callable) -> Callable:
    """``Stack.create_resources``: a stack whose resource fails rolls back."""
    @functools.wraps(original)
    def create_resources(self: Stack) -> None:
        try:
            original(self)
        except ResourceFailed as failure:
            _roll_back(self, f"The following resource(s) failed to create: "
                             f"[{failure.logical_id}]. Rollback requested by user.")
        except Exception as error:  # outside any one resource
            _roll_back(self, str(error) or type(error).__name__)

    return create_resources


def delete_stack(self: Stack) -> None:
    """``Stack.delete``: delete every resource the stack made, newest first, with events."""
    self.status = DELETE_IN_PROGRESS
    self._add_stack_event(DELETE_IN_PROGRESS, resource_status_reason="User Initiated")
    failed = _delete_made(self)
    if failed:
        self.status = DELETE_FAILED
        self._add_stack_event(DELETE_FAILED, resource_status_reason=(
            f"The following resource(s) failed to delete: [{', '.join(failed)}]."))
    else:
        self.status = DELETE_COMPLETE
        self._add_stack_event(DELETE_COMPLETE)


def _parameter_list(self: Stack) -> list[dict[str, Any]]:
    hidden = set(self.resource_map.no_echo_parameter_keys)
    return [{"ParameterKey": key, "ParameterValue": "****" if key in hidden else value}
            for key, value in self.resource_map.resolved_parameters.items()]


class _Property(property):
    """A property that can carry moto_patches' mark (a plain property takes no attributes)."""


#: ``Stack.parameter_list``: the stack's parameters as DescribeStacks shows them, a ``NoEcho``
#: one as ``****`` whatever its value (moto looked the value up among the NoEcho parameters'
#: names, so a ciphertext showed in clear).
parameter_list = _Property(_parameter_list)


# --------------------------------------------------------------------------------------------


def _roll_back(stack: Stack, reason: str) -> None:
    stack.status = ROLLBACK_IN_PROGRESS
    stack._add_stack_event(ROLLBACK_IN_PROGRESS, resource_status_reason=reason)
    _delete_made(stack)
    stack.status = ROLLBACK_COMPLETE
    stack._add_stack_event(ROLLBACK_COMPLETE)


def _delete_made(stack: Stack) -> list[str]:
    """Delete what *stack* made, newest first; the stack then holds no resources (moto's map
    would make them again on the next DescribeStackResources). The logical ids that failed."""
    resource_map = stack.resource_map
    with _lock:
        made = _made.pop(stack.stack_id, [])
    in_template = resource_map._resource_json_map
    failed = []
    for item in reversed(made):
        resource = resource_map._parsed_resources.pop(item.logical_id, item.resource)
        if item.retain or item.logical_id not in in_template:
            continue  # kept, or already deleted by an update that removed it
        physical_id = str(getattr(resource, "physical_resource_id", "") or "")
        _event(stack, item.logical_id, item.resource_type, physical_id, DELETE_IN_PROGRESS)
        try:
            resources.delete(resource, item.resource_type, item.properties, stack.account_id,
                             stack.region_name)
        except Exception as error:
            _event(stack, item.logical_id, item.resource_type, physical_id, DELETE_FAILED,
                   f"{item.logical_id} ({item.resource_type}) could not be deleted: "
                   f"{_said(error)}")
            failed.append(item.logical_id)
            continue
        _event(stack, item.logical_id, item.resource_type, physical_id, DELETE_COMPLETE)
    resource_map._resource_json_map = {}
    stack.output_map = OutputMap(resource_map, {"Outputs": {}}, stack.stack_id)
    return failed


def _stack(account_id: str, region_name: str, stack_id: str) -> Stack | None:
    return cloudformation_backends[account_id][region_name].stacks.get(stack_id)


def _event(stack: Stack | None, logical_id: str, resource_type: str, physical_id: str,
           status: str, reason: str | None = None) -> None:
    """A resource's stack event (DescribeStackEvents; sent to the stack's notification
    topics, as moto sends the stack's own)."""
    if stack is None:
        return
    event = Event(stack_id=stack.stack_id, stack_name=stack.name,
                  logical_resource_id=logical_id, physical_resource_id=physical_id,
                  resource_type=resource_type, resource_status=status,
                  resource_status_reason=reason, resource_properties=None)
    event.sendToSns(stack.account_id, stack.region_name, stack.notification_arns)
    stack.events.append(event)
