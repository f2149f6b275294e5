"""Exception hierarchy. Every error the agent raises on purpose is an AgentError
whose message says what is wrong and how to fix it; causes are chained with `from`."""


class AgentError(Exception):
    """Base class of every error the agent raises deliberately."""


class ConfigError(AgentError):
    """The configuration is unreadable or invalid. `errors` holds one line per problem."""

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.errors: list[str] = errors if errors is not None else [message]


class ModelError(AgentError):
    """The model file, its labels, its tensors or its runtime/delegate cannot be used."""


class SourceError(AgentError):
    """A camera source could not be opened or read."""


class CatalogError(AgentError):
    """A model catalogue entry is unknown, or a pull failed its checksum."""


class PublishError(AgentError):
    """The MQTT connection settings cannot be used (bad TLS files, missing password file)."""


class InputError(AgentError):
    """A command's input (a file, a directory, an argument) cannot be used: the CLI exits 2 naming it."""


class RecognitionError(InputError):
    """A second-stage classifier cannot be trained or loaded: a bad dataset, image, model file or backbone."""
