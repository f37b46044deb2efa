"""DVCQG's messages as typed models (field names as on the wire, PhienBan 1.0.6)."""

from __future__ import annotations

from typing import Any

from app.adapters.common.wire import Count, Text, WireModel


class Result(WireModel):
    """The platform's callback (``MaLoi`` "00" paid) and, with ``TrangThaiGD``, its QUERY answer."""

    LoaiBanTin: Text = ""
    MaLoi: Text = ""
    MoTaLoi: Text = ""
    MaDoiTac: Text = ""
    MaThamChieu: Text = ""
    SoTien: Count = None
    MaTienTe: Text = ""
    MaGiaoDich: Text = ""
    MaNganHang: Text = ""
    ThoiGianGD: Text = ""
    ThongTinGiaoDich: Text = ""
    TrangThaiGD: Text = ""  # QUERY: 1 paid, 3 pending/unknown, 4 failed


class Wrapped(WireModel):
    """``{error_code, message}``: some deployments wrap the answer's JSON text in ``message``."""

    error_code: Text = ""
    message: Any = None


class Links(WireModel):
    """The URLs an INIT (``UrlThanhToan``) or GET_BILL (``UrlBienLai``) answer holds."""

    UrlThanhToan: Any = None
    UrlBienLai: Any = None


class ReturnParams(WireModel):
    """Browser return ``?data=<MaThamChieu>&responseCode=<MaLoi>&secureCode=…``."""

    data: Text = ""
    responseCode: Text = ""


class Lookup(WireModel):
    """The platform's bill lookup by dossier code (pull model)."""

    MaDoiTac: Text = ""
    MaHoSo: Text = ""
    ThoiGianGD: Text = ""
