//! The fixed word lists the generator draws from: districts, streets,
//! station names, code names, notes. Data only, no logic.

use pollwatch_domain::Language;

/// One of Almaty's eight districts, as the demo lays it out.
pub(crate) struct DistrictSpec {
    /// The official name, as the commission writes it.
    pub name: &'static str,
    pub stations: usize,
    /// Centre (latitude, longitude) that the district's stations cluster around.
    pub centre: (f64, f64),
    /// Standard deviation of the cluster (latitude, longitude), in degrees.
    pub spread: (f64, f64),
    /// Real streets and micro-districts of the district ("мкр." ones take short house numbers).
    pub streets: &'static [&'static str],
}

/// In the order the city numbers its stations. Counts are uneven, as the
/// districts' populations are, and sum to 616.
pub(crate) const DISTRICTS: [DistrictSpec; 8] = [
    DistrictSpec {
        name: "Алатауский",
        stations: 96,
        centre: (43.285, 76.845),
        spread: (0.016, 0.026),
        streets: &[
            "мкр. Шанырак-1",
            "мкр. Шанырак-2",
            "мкр. Айгерим-1",
            "мкр. Айгерим-2",
            "мкр. Алгабас",
            "мкр. Теректы",
            "мкр. Боралдай",
            "мкр. Ожет",
            "пр. Рыскулова",
            "ул. Момышулы",
        ],
    },
    DistrictSpec {
        name: "Алмалинский",
        stations: 78,
        centre: (43.255, 76.915),
        spread: (0.010, 0.015),
        streets: &[
            "ул. Толе би",
            "пр. Абая",
            "ул. Сейфуллина",
            "ул. Байтурсынулы",
            "ул. Шарипова",
            "ул. Жамбыла",
            "ул. Казыбек би",
            "ул. Богенбай батыра",
            "ул. Айтеке би",
            "ул. Муратбаева",
            "ул. Гоголя",
        ],
    },
    DistrictSpec {
        name: "Ауэзовский",
        stations: 112,
        centre: (43.225, 76.860),
        spread: (0.012, 0.020),
        streets: &[
            "мкр. Жетысу-2",
            "мкр. Аксай-3А",
            "мкр. Аксай-4",
            "мкр. Мамыр-4",
            "мкр. Таугуль",
            "ул. Жандосова",
            "ул. Саина",
            "ул. Жубанова",
            "ул. Толе би",
            "пр. Абая",
        ],
    },
    DistrictSpec {
        name: "Бостандыкский",
        stations: 104,
        centre: (43.218, 76.925),
        spread: (0.012, 0.020),
        streets: &[
            "пр. Аль-Фараби",
            "ул. Розыбакиева",
            "ул. Тимирязева",
            "ул. Жарокова",
            "ул. Маркова",
            "пр. Гагарина",
            "ул. Сатпаева",
            "ул. Утепова",
            "мкр. Орбита-2",
            "мкр. Коктем-1",
        ],
    },
    DistrictSpec {
        name: "Жетысуский",
        stations: 52,
        centre: (43.290, 76.935),
        spread: (0.012, 0.018),
        streets: &[
            "ул. Райымбека",
            "ул. Кудерина",
            "ул. Котельникова",
            "ул. Бекмаханова",
            "ул. Жансугурова",
            "мкр. Кулагер",
            "мкр. Айнабулак-3",
        ],
    },
    DistrictSpec {
        name: "Медеуский",
        stations: 72,
        centre: (43.245, 76.985),
        spread: (0.013, 0.022),
        streets: &[
            "пр. Достык",
            "пр. Назарбаева",
            "ул. Кабанбай батыра",
            "ул. Пушкина",
            "ул. Зенкова",
            "ул. Бегалина",
            "мкр. Самал-1",
            "мкр. Самал-2",
            "мкр. Думан",
        ],
    },
    DistrictSpec {
        name: "Наурызбайский",
        stations: 34,
        centre: (43.205, 76.805),
        spread: (0.009, 0.016),
        streets: &[
            "мкр. Калкаман-1",
            "мкр. Калкаман-2",
            "мкр. Шугыла",
            "мкр. Акжар",
            "мкр. Таусамалы",
            "мкр. Рахат",
            "ул. Жандосова",
        ],
    },
    DistrictSpec {
        name: "Турксибский",
        stations: 68,
        centre: (43.328, 76.965),
        spread: (0.013, 0.020),
        streets: &[
            "ул. Сейфуллина",
            "ул. Майлина",
            "ул. Халиуллина",
            "ул. Кокорай",
            "ул. Суюнбая",
            "ул. Казыбаева",
            "мкр. Жулдыз-1",
            "мкр. Жулдыз-2",
            "мкр. Кайрат",
        ],
    },
];

/// Small special stations: hospitals and care homes (50 to 300 voters).
pub(crate) const SPECIAL_STATIONS: [&str; 12] = [
    "Городская клиническая больница № 1",
    "Городская клиническая больница № 4",
    "Городская клиническая больница № 7",
    "Центральная городская клиническая больница",
    "Больница скорой неотложной помощи",
    "Городской перинатальный центр",
    "Детская городская клиническая больница № 2",
    "Городской онкологический центр",
    "Центр психического здоровья",
    "Противотуберкулёзный диспансер",
    "Центр социальных услуг «Ардагерлер үйі»",
    "Городской кардиологический центр",
];

/// School name forms; `{}` is the school's number.
pub(crate) const SCHOOL_FORMS: [&str; 4] = [
    "КГУ «Общеобразовательная школа № {}»",
    "Школа-гимназия № {}",
    "Школа-лицей № {}",
    "КГУ «Средняя школа № {}»",
];

pub(crate) const COLLEGES: [&str; 7] = [
    "Алматинский колледж связи",
    "Алматинский политехнический колледж",
    "Высший медицинский колледж",
    "Колледж экономики и бизнеса",
    "Алматинский государственный гуманитарно-педагогический колледж",
    "Алматинский колледж строительства и менеджмента",
    "Колледж транспорта и коммуникаций",
];

pub(crate) const CULTURE: [&str; 7] = [
    "Дворец школьников",
    "Дом культуры «Жетысу»",
    "Дом культуры «Достык»",
    "Центр досуга «Алатау»",
    "Дворец культуры железнодорожников",
    "Спортивный комплекс «Самал»",
    "Библиотека им. Жамбыла",
];

pub(crate) const UNIVERSITIES: [&str; 5] = [
    "Казахский национальный университет им. аль-Фараби",
    "Казахский национальный педагогический университет им. Абая",
    "Алматинский университет энергетики и связи",
    "Казахская академия транспорта и коммуникаций",
    "Казахский национальный аграрный исследовательский университет",
];

/// Code-name stems per language: birds, animals, mountains.
pub(crate) fn code_name_stems(language: Language) -> &'static [&'static str] {
    match language {
        Language::Kk => &[
            "Бүркіт",
            "Сұңқар",
            "Қыран",
            "Тұлпар",
            "Барыс",
            "Арлан",
            "Аққу",
            "Қарлығаш",
            "Жолбарыс",
            "Бөрі",
            "Тарлан",
            "Самұрық",
            "Кекілік",
            "Тырна",
        ],
        Language::Ru => &[
            "Сокол",
            "Беркут",
            "Ирбис",
            "Ястреб",
            "Журавль",
            "Кедр",
            "Эдельвейс",
            "Сапсан",
            "Филин",
            "Стриж",
            "Рысь",
            "Архар",
            "Клён",
        ],
        Language::En => &[
            "Tulpar",
            "Irbis",
            "Sunkar",
            "Kyran",
            "Berkut",
            "Arlan",
            "Altai",
            "Talgar",
            "Khan-Tengri",
            "Medeu",
            "Kolsai",
            "Charyn",
            "Shymbulak",
        ],
    }
}

/// What an observer writes on arriving.
pub(crate) fn check_in_notes(language: Language) -> &'static [&'static str] {
    match language {
        Language::Kk => &[
            "Орнымдамын",
            "Учаскеге келдім",
            "Келдім, комиссия дайындалып жатыр",
        ],
        Language::Ru => &[
            "На месте",
            "Прибыл на участок",
            "На месте, комиссия готовится",
        ],
        Language::En => &[
            "On site",
            "Arrived at the station",
            "Here, commission is setting up",
        ],
    }
}

/// Free notes during the day.
pub(crate) fn day_notes(language: Language) -> &'static [&'static str] {
    match language {
        Language::Kk => &[
            "Бәрі тыныш",
            "Кезек шамамен 20 адам",
            "Көшпелі жәшік үйде дауыс беруге шығарылды",
            "Төраға суретке түсірмеуді сұрады",
            "Студенттер топ-тобымен келіп жатыр",
            "Бөлмеде орын аз, тізімді көру қиын",
        ],
        Language::Ru => &[
            "Всё спокойно",
            "Очередь около 20 человек",
            "Вынесли переносной ящик для голосования на дому",
            "Председатель попросил не снимать",
            "Студенты приходят группами",
            "Мало места, список плохо видно",
        ],
        Language::En => &[
            "All calm",
            "Queue of about 20 people",
            "Mobile box taken out for home voting",
            "Chair asked me not to film",
            "Students arriving in groups",
            "Little space, hard to see the voter list",
        ],
    }
}

/// The note an observer sends when the boxes are opened.
pub(crate) fn count_started_note(language: Language) -> &'static str {
    match language {
        Language::Kk => "Дауыс беру аяқталды, санақ басталды",
        Language::Ru => "Голосование закрыто, начался подсчёт",
        Language::En => "Voting closed, count started",
    }
}
