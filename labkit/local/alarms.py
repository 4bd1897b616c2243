"""The alarm engine's moto integration. (Placeholder: filled in by the alarm work.)"""


class AlarmService:
    def shutdown(self) -> None:
        return None


def install() -> AlarmService:
    return AlarmService()
