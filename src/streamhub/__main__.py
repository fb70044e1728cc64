from streamhub.cli.main import main

main()
